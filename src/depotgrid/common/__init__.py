"""Protocol-free utilities shared by manage and sim."""
