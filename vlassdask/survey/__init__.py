"""survey layer of vlassdask."""
