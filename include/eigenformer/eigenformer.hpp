#pragma once
// Everything in eigenformer that needs only Eigen and nlohmann_json: the building blocks,
// the file formats (safetensors, PyTorch checkpoints), the BERT model and the RT-DETR detectors
// (HF folders and ultralytics checkpoints). The tokenizer (utf8proc) is in
// <eigenformer/text.hpp>, image files and drawing
// (stb, libjpeg) in <eigenformer/image.hpp>.

#include <eigenformer/core/error.hpp>
#include <eigenformer/core/huge_page_buffer.hpp>
#include <eigenformer/core/sequence_batch.hpp>
#include <eigenformer/core/state_dict.hpp>
#include <eigenformer/core/tensor.hpp>
#include <eigenformer/core/threading.hpp>
#include <eigenformer/core/trace.hpp>
#include <eigenformer/core/types.hpp>

#include <eigenformer/io/dtype.hpp>
#include <eigenformer/io/json_config.hpp>
#include <eigenformer/io/model_files.hpp>
#include <eigenformer/io/pickle.hpp>
#include <eigenformer/io/safetensors.hpp>
#include <eigenformer/io/torch_checkpoint.hpp>
#include <eigenformer/io/zip_archive.hpp>

#include <eigenformer/nn/activations.hpp>
#include <eigenformer/nn/embedding.hpp>
#include <eigenformer/nn/layer_norm.hpp>
#include <eigenformer/nn/linear.hpp>
#include <eigenformer/nn/mlp.hpp>
#include <eigenformer/nn/packed_weight.hpp>
#include <eigenformer/nn/positional_encoding.hpp>
#include <eigenformer/nn/softmax.hpp>

#include <eigenformer/attention/attend_heads.hpp>
#include <eigenformer/attention/attention_mask.hpp>
#include <eigenformer/attention/blocked_attention.hpp>
#include <eigenformer/attention/materialized_attention.hpp>
#include <eigenformer/attention/multi_head_attention.hpp>
#include <eigenformer/attention/multi_scale_deformable_attention.hpp>
#include <eigenformer/attention/scaled_dot_product_attention.hpp>

#include <eigenformer/transformer/decoder_layer.hpp>
#include <eigenformer/transformer/encoder_layer.hpp>
#include <eigenformer/transformer/feed_forward.hpp>
#include <eigenformer/transformer/residual_blocks.hpp>

#include <eigenformer/models/bert/config.hpp>
#include <eigenformer/models/bert/model.hpp>
#include <eigenformer/models/bert/pooling.hpp>

#include <eigenformer/cnn/concat.hpp>
#include <eigenformer/cnn/conv2d.hpp>
#include <eigenformer/cnn/conv_norm.hpp>
#include <eigenformer/cnn/feature_map.hpp>
#include <eigenformer/cnn/pad.hpp>
#include <eigenformer/cnn/pool2d.hpp>
#include <eigenformer/cnn/upsample.hpp>

#include <eigenformer/models/rtdetr/model.hpp>
#include <eigenformer/models/rtdetr/post_process.hpp>

#include <eigenformer/models/ultralytics/post_process.hpp>
#include <eigenformer/models/ultralytics/rtdetr_model.hpp>
