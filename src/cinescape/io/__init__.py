"""Image and video input/output.

Image arrays are uint8 (H, W, 3) RGB; image tensors are float32 (1, 3, H, W) in [-1, 1]. Writers are
atomic (temporary file next to the target, then a rename). See :mod:`cinescape.io.image`,
:mod:`cinescape.io.video` (writing) and :mod:`cinescape.io.video_reader` (reading clips).
"""

from cinescape.io import image, video, video_reader
from cinescape.io.image import (DEFAULT_MAX_PIXELS, MIN_IMAGE_SIDE, image_to_tensor, load_image, save_image,
                                tensor_to_image)
from cinescape.io.video import SUPPORTED_OUTPUTS, VideoWriter, write_video
from cinescape.io.video_reader import FRAME_EXTENSIONS, VIDEO_EXTENSIONS, read_clip, read_frame_folder, read_video_frames

__all__ = [*image.__all__, *video.__all__, *video_reader.__all__]
