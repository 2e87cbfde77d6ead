"""testing layer of vlassdask."""
