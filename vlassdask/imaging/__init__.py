"""imaging layer of vlassdask."""
