"""simulate layer of vlassdask."""
