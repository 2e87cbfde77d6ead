"""kernels layer of vlassdask."""
