#pragma once
// Image files in and out, and RT-DETR's pre-processing; needs stb (link eigenformer::image).

#include <eigenformer/eigenformer.hpp>

#include <eigenformer/vision/image.hpp>
#include <eigenformer/vision/image_io.hpp>
#include <eigenformer/vision/image_resize.hpp>
#include <eigenformer/vision/preprocess.hpp>
