"""The one type of image, token-grid, patch and window sizes: ``(height, width)``."""

Size2d = tuple[int, int]
