#pragma once
// Image files in and out, resizing as PIL and OpenCV do, drawing detections, and the models'
// image pipelines (HF RT-DETR's processor, ultralytics' predictor); needs stb and libjpeg
// (link eigenformer::image).

#include <eigenformer/eigenformer.hpp>

#include <eigenformer/image/cv_resize.hpp>
#include <eigenformer/image/detection_plot.hpp>
#include <eigenformer/image/draw.hpp>
#include <eigenformer/image/image.hpp>
#include <eigenformer/image/image_file.hpp>
#include <eigenformer/image/jpeg.hpp>
#include <eigenformer/image/pil_resize.hpp>
#include <eigenformer/models/rtdetr/image_processor.hpp>
#include <eigenformer/models/ultralytics/predictor.hpp>
