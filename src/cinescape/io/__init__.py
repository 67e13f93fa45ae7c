"""Image and video input/output.

Image arrays are uint8 (H, W, 3) RGB; image tensors are float32 (1, 3, H, W) in [-1, 1]. Writers are
atomic (temporary file next to the target, then a rename). See :mod:`cinescape.io.image` and
:mod:`cinescape.io.video`.
"""

from cinescape.io.image import (
    DEFAULT_MAX_PIXELS,
    MIN_IMAGE_SIDE,
    image_to_tensor,
    load_image,
    save_image,
    tensor_to_image,
)
from cinescape.io.video import (
    FRAME_EXTENSIONS,
    SUPPORTED_OUTPUTS,
    VIDEO_EXTENSIONS,
    VideoWriter,
    read_clip,
    read_frame_folder,
    read_video_frames,
    write_video,
)

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "MIN_IMAGE_SIDE",
    "load_image",
    "image_to_tensor",
    "tensor_to_image",
    "save_image",
    "SUPPORTED_OUTPUTS",
    "VIDEO_EXTENSIONS",
    "FRAME_EXTENSIONS",
    "VideoWriter",
    "write_video",
    "read_video_frames",
    "read_frame_folder",
    "read_clip",
]
