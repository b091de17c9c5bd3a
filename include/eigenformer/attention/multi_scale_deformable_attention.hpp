#pragma once
// Multi-scale deformable attention (Deformable DETR, Zhu et al. 2021) as HF transformers'
// DeformableDetrMultiscaleDeformableAttention / RTDetrMultiscaleDeformableAttention compute it
// with their PyTorch kernel (multi_scale_deformable_attention over F.grid_sample):
//
//   q        = queries + query_position      (the position is added before both projections)
//   value    = value_proj(value_input)        padded tokens zeroed after the projection
//   offset   = sampling_offsets(q)            viewed as (heads, levels, points, 2)
//   weight   = attention_weights(q)           softmax per head over levels x points
//   location = ref + offset / (W_l, H_l)                  2-d reference points (x, y)
//            = ref_xy + offset / points * ref_wh * 0.5    4-d reference boxes (cx, cy, w, h)
//   context  = per head: sum over levels and points of weight * bilinear(value, location)
//   output   = output_proj(context)
//
// Locations are normalised image coordinates ((0, 0) top-left, (1, 1) bottom-right) shared by
// all levels. The value input stacks the levels' tokens in level order, each level in raster
// order (PyTorch's flatten(2).transpose(1, 2) of an NCHW map); value rows are tokens x
// (heads * head_dim), so a head's slice of a token is head_dim contiguous numbers. The value
// projection may also be applied after sampling (DeformableSamplingOrder): same result, less
// work when queries are few.

#include <eigenformer/core/error.hpp>
#include <eigenformer/core/sequence_batch.hpp>
#include <eigenformer/core/state_dict.hpp>
#include <eigenformer/core/tensor.hpp>
#include <eigenformer/core/threading.hpp>
#include <eigenformer/core/trace.hpp>
#include <eigenformer/core/types.hpp>
#include <eigenformer/nn/linear.hpp>
#include <eigenformer/nn/packed_weight.hpp>
#include <eigenformer/nn/softmax.hpp>

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace eigenformer {

struct SpatialShape {
  Index height = 0;
  Index width = 0;
  Index tokens() const { return height * width; }
};

// The feature levels of one image: each level's (height, width) and the row where its tokens
// start in the flattened value input (HF's spatial_shapes and level_start_index).
class FeatureLevels {
 public:
  FeatureLevels() = default;
  explicit FeatureLevels(std::vector<SpatialShape> shapes) : shapes_(std::move(shapes)) {
    starts_.reserve(shapes_.size());
    for (std::size_t level = 0; level < shapes_.size(); ++level) {
      const SpatialShape& shape = shapes_[level];
      if (shape.height <= 0 || shape.width <= 0 ||
          shape.height > (std::numeric_limits<Index>::max() - total_) / shape.width)
        throw InvalidArgument(
            detail::concat("feature level ", level, ": spatial shape ", shape.height, " x ",
                           shape.width, " (height x width) must be positive and not overflow"));
      starts_.push_back(total_);
      total_ += shape.tokens();
    }
  }

  // With a given level_start_index, which must agree with the shapes.
  FeatureLevels(std::vector<SpatialShape> shapes, const std::vector<Index>& level_start_index)
      : FeatureLevels(std::move(shapes)) {
    if (level_start_index != starts_)
      throw ShapeError(detail::concat("level_start_index ", detail::shape_string(level_start_index),
                                      " does not match the spatial shapes, which start levels at ",
                                      detail::shape_string(starts_)));
  }

  // From HF's `spatial_shapes` tensor: (levels, 2) rows of (height, width), any stored dtype.
  template <typename T>
  static FeatureLevels from_tensor(const Tensor<T>& spatial_shapes) {
    if (spatial_shapes.rank() != 2 || spatial_shapes.dim(1) != 2)
      throw ShapeError(detail::concat("spatial_shapes must be (levels, 2), got ",
                                      detail::shape_string(spatial_shapes.shape())));
    std::vector<SpatialShape> shapes(static_cast<std::size_t>(spatial_shapes.dim(0)));
    for (std::size_t level = 0; level < shapes.size(); ++level) {
      const Index row = static_cast<Index>(level);
      shapes[level] = {to_extent(spatial_shapes[2 * row], "spatial_shapes"),
                       to_extent(spatial_shapes[2 * row + 1], "spatial_shapes")};
    }
    return FeatureLevels(std::move(shapes));
  }

  template <typename T>
  static FeatureLevels from_tensor(const Tensor<T>& spatial_shapes,
                                   const Tensor<T>& level_start_index) {
    FeatureLevels levels = from_tensor(spatial_shapes);
    if (level_start_index.rank() != 1)
      throw ShapeError(detail::concat("level_start_index must be 1-d, got ",
                                      detail::shape_string(level_start_index.shape())));
    std::vector<Index> starts(static_cast<std::size_t>(level_start_index.size()));
    for (std::size_t i = 0; i < starts.size(); ++i)
      starts[i] = to_extent(level_start_index[static_cast<Index>(i)], "level_start_index");
    return FeatureLevels(levels.shapes_, starts);
  }

  Index size() const { return static_cast<Index>(shapes_.size()); }
  const std::vector<SpatialShape>& shapes() const { return shapes_; }
  const SpatialShape& shape(Index level) const {
    return shapes_.at(static_cast<std::size_t>(level));
  }
  const std::vector<Index>& starts() const { return starts_; }
  Index start(Index level) const { return starts_.at(static_cast<std::size_t>(level)); }
  Index total_tokens() const { return total_; }

 private:
  // Stored extents may be floats (a fixture read as T); they must be whole and in range
  // before the cast, which would otherwise be undefined.
  template <typename T>
  static Index to_extent(T value, const char* what) {
    const double v = static_cast<double>(value);
    if (!(v >= 0 && v <= 1e15 && v == std::floor(v)))
      throw InvalidArgument(detail::concat(what, ": ", v, " is not a valid size or index"));
    return static_cast<Index>(v);
  }

  std::vector<SpatialShape> shapes_;
  std::vector<Index> starts_;
  Index total_ = 0;
};

// Value projection, bilinear sampling and the attention-weighted sum are all linear, so they
// commute: sum_k a_k (W x_k + b) = W (sum_k a_k x_k) + (sum_k a_k) b, where a_k combines the
// attention weight and the bilinear weight of each in-map, unpadded neighbour x_k. Either
// order gives HF's result up to rounding; they differ in cost.
enum class DeformableSamplingOrder {
  // Whichever needs less arithmetic for the given sizes.
  Automatic,
  // HF's order: project every value token (tokens x d x d), then gather head_dim-wide slices.
  // Cheaper when the queries are about as many as the tokens (a deformable encoder).
  ProjectThenSample,
  // Gather d-wide rows of the unprojected input per (query, head), then project those
  // (queries x d x d). Cheaper when queries are far fewer than tokens: RT-DETR's decoder has
  // 300 queries over 8400 tokens.
  SampleThenProject,
};

template <typename T>
struct DeformableAttentionOptions {
  // Added to the queries before the offset and weight projections (HF position_embeddings).
  std::optional<MatrixView<T>> query_position;
  // One entry per value row, true = padded token: its projected value counts as zero (HF's
  // attention_mask, which is the opposite: true = real pixel).
  std::optional<Eigen::Ref<const BoolVector>> value_padding;
  DeformableSamplingOrder order = DeformableSamplingOrder::Automatic;
  // When set, receives the intermediates under the module's name m, in HF's layouts flattened
  // to rows x columns, per-sample columns in (head, level, point[, xy]) order:
  // "m.value_proj" (before padded tokens are zeroed), "m.sampling_offsets",
  // "m.attention_weights" (logits), "m.attn:sampling_locations" (normalised x, y),
  // "m.attn:attention_weights" (softmaxed), "m.attn" (context before output_proj) and "m".
  Trace<T>* trace = nullptr;
};

template <typename T>
class MultiScaleDeformableAttention {
 public:
  MultiScaleDeformableAttention() : value_heads_(1) {}
  // `module`: the upstream module name the trace records under.
  MultiScaleDeformableAttention(Linear<T> value_projection, Linear<T> sampling_offsets,
                                Linear<T> attention_weights, Linear<T> output_projection,
                                Index num_heads, Index num_levels, Index num_points,
                                std::string module = "")
      : value_projection_(std::move(value_projection)),
        sampling_offsets_(std::move(sampling_offsets)),
        attention_weights_(std::move(attention_weights)),
        output_projection_(std::move(output_projection)),
        num_heads_(num_heads),
        num_levels_(num_levels),
        num_points_(num_points),
        module_(std::move(module)) {
    const Index d = embed_dim();
    if (num_heads_ <= 0 || num_levels_ <= 0 || num_points_ <= 0 || d % num_heads_ != 0)
      throw ShapeError(detail::concat(
          "MultiScaleDeformableAttention: embed_dim ", d, ", ", num_heads_, " heads, ", num_levels_,
          " levels, ", num_points_, " points: counts must be positive and heads divide embed_dim"));
    const Index samples = num_heads_ * num_levels_ * num_points_;
    expect_layer("value_proj", value_projection_, d, d);
    expect_layer("sampling_offsets", sampling_offsets_, d, 2 * samples);
    expect_layer("attention_weights", attention_weights_, d, samples);
    expect_layer("output_proj", output_projection_, d, d);
    const Matrix<T> value_weight = value_projection_.weight();
    for (Index head = 0; head < num_heads_; ++head)
      value_heads_.emplace_back(value_weight.middleRows(head * head_dim(), head_dim()));
  }

  // HF's module under `prefix` ("model.decoder.layers.0.encoder_attn."): value_proj,
  // sampling_offsets, attention_weights and output_proj, each a Linear with bias.
  static MultiScaleDeformableAttention load(const StateDict<T>& weights, const std::string& prefix,
                                            Index embed_dim, Index num_heads, Index num_levels,
                                            Index num_points) {
    const Index samples = num_heads * num_levels * num_points;
    return MultiScaleDeformableAttention(
        Linear<T>::load(weights, prefix + "value_proj.", embed_dim, embed_dim),
        Linear<T>::load(weights, prefix + "sampling_offsets.", embed_dim, 2 * samples),
        Linear<T>::load(weights, prefix + "attention_weights.", embed_dim, samples),
        Linear<T>::load(weights, prefix + "output_proj.", embed_dim, embed_dim), num_heads,
        num_levels, num_points, detail::module_of_prefix(prefix));
  }

  Index embed_dim() const { return value_projection_.out_features(); }
  Index num_heads() const { return num_heads_; }
  Index head_dim() const { return embed_dim() / num_heads_; }
  Index num_levels() const { return num_levels_; }
  Index num_points() const { return num_points_; }
  const std::string& module_name() const { return module_; }

  // One image: `queries` (Q x d), `reference_points` (Q x 2 points or Q x 4 boxes, normalised,
  // shared by all levels), `value_input` (levels.total_tokens() x d).
  Matrix<T> forward(const MatrixView<T>& queries, const MatrixView<T>& reference_points,
                    const MatrixView<T>& value_input, const FeatureLevels& levels,
                    const DeformableAttentionOptions<T>& options = {}) const {
    return forward(queries, reference_points, value_input, SequenceBatch::single(queries.rows()),
                   levels, options);
  }

  // Several images of equal feature-level shapes: query and reference rows follow
  // `query_batch`; `value_input` stacks query_batch.size() images of levels.total_tokens()
  // rows each. The projections run as single matrix products over all images.
  Matrix<T> forward(const MatrixView<T>& queries, const MatrixView<T>& reference_points,
                    const MatrixView<T>& value_input, const SequenceBatch& query_batch,
                    const FeatureLevels& levels,
                    const DeformableAttentionOptions<T>& options = {}) const {
    check_inputs(queries, reference_points, value_input, query_batch, levels, options);
    Trace<T>* trace = options.trace && options.trace->wants(module_) ? options.trace : nullptr;
    const bool sample_first = samples_inputs(options.order, queries.rows(), value_input.rows());
    Matrix<T> value;
    if (!sample_first || trace) value = projected_values(value_input, options.value_padding, trace);
    Matrix<T> offsets, logits;
    if (options.query_position) {
      const Matrix<T> positioned = queries + *options.query_position;
      offsets = sampling_offsets_.forward(positioned);
      logits = attention_weights_.forward(positioned);
    } else {
      offsets = sampling_offsets_.forward(queries);
      logits = attention_weights_.forward(queries);
    }
    if (trace) {
      trace->record(name("sampling_offsets"), offsets);
      trace->record(name("attention_weights"), logits);
    }
    // In place: the logits become weights and the offsets become locations.
    normalize_attention_weights(logits);
    offsets_to_locations(reference_points, levels, offsets);
    if (trace) {
      trace->record(name("attn:sampling_locations"), offsets);
      trace->record(name("attn:attention_weights"), logits);
    }

    const Samples samples{offsets, logits, query_batch, levels, options.value_padding};
    Matrix<T> context(queries.rows(), embed_dim());
    if (sample_first)
      sample_then_project(value_input, samples, context);
    else
      project_then_sample(value, samples, context);
    if (trace) trace->record(name("attn"), context);
    Matrix<T> out = output_projection_.forward(context);
    if (trace) trace->record(module_, out);
    return out;
  }

 private:
  // Per query row: locations (x, y interleaved) and weights in (head, level, point) order.
  struct Samples {
    const Matrix<T>& locations;
    const Matrix<T>& weights;
    const SequenceBatch& query_batch;
    const FeatureLevels& levels;
    const std::optional<Eigen::Ref<const BoolVector>>& padding;
  };

  using ArrayMap = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
  using ConstArrayMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

  static void expect_layer(const char* name, const Linear<T>& layer, Index in, Index out) {
    if (layer.in_features() != in || layer.out_features() != out)
      throw ShapeError(detail::concat("MultiScaleDeformableAttention: ", name, " maps ",
                                      layer.in_features(), " -> ", layer.out_features(),
                                      ", expected ", in, " -> ", out));
  }

  void check_inputs(const MatrixView<T>& queries, const MatrixView<T>& reference_points,
                    const MatrixView<T>& value_input, const SequenceBatch& query_batch,
                    const FeatureLevels& levels,
                    const DeformableAttentionOptions<T>& options) const {
    const Index d = embed_dim();
    auto fail = [](const auto&... parts) {
      throw ShapeError(detail::concat("MultiScaleDeformableAttention: ", parts...));
    };
    if (levels.size() != num_levels_)
      fail(levels.size(), " feature levels given, the weights expect ", num_levels_);
    if (queries.cols() != d) fail("queries have ", queries.cols(), " features, expected ", d);
    query_batch.check_rows(queries.rows(), "MultiScaleDeformableAttention queries");
    if (reference_points.rows() != queries.rows() ||
        (reference_points.cols() != 2 && reference_points.cols() != 4))
      fail("reference points are ", reference_points.rows(), " x ", reference_points.cols(),
           ", expected ", queries.rows(), " x 2 (x, y) or x 4 (cx, cy, w, h)");
    if (options.query_position &&
        (options.query_position->rows() != queries.rows() || options.query_position->cols() != d))
      fail("query position is ", options.query_position->rows(), " x ",
           options.query_position->cols(), ", expected ", queries.rows(), " x ", d);
    const Index value_rows = query_batch.size() * levels.total_tokens();
    if (value_input.rows() != value_rows || value_input.cols() != d)
      fail("value input is ", value_input.rows(), " x ", value_input.cols(), ", expected ",
           value_rows, " x ", d, " (", query_batch.size(), " image(s) of ", levels.total_tokens(),
           " tokens: the spatial shapes must add up to the value rows)");
    if (options.value_padding && options.value_padding->size() != value_rows)
      fail("value padding mask has ", options.value_padding->size(), " entries, expected ",
           value_rows);
  }

  // Estimated work of each order in matrix-product multiply-adds. Both visit the same
  // neighbours (at most 4 per sample), head_dim or d values wide. kGatherCost, the price of a
  // gathered multiply-add in matrix-product ones, was chosen with
  // bench/deformable_attention_bench.cpp (docs/performance.md).
  bool samples_inputs(DeformableSamplingOrder order, Index queries, Index tokens) const {
    if (order != DeformableSamplingOrder::Automatic)
      return order == DeformableSamplingOrder::SampleThenProject;
    constexpr double kGatherCost = 4;
    const double d = static_cast<double>(embed_dim());
    const double neighbours =
        4.0 * static_cast<double>(queries * num_heads_ * num_levels_ * num_points_);
    const double project_first = static_cast<double>(tokens) * d * d +
                                 kGatherCost * neighbours * static_cast<double>(head_dim());
    const double sample_first = static_cast<double>(queries) * d * d + kGatherCost * neighbours * d;
    return sample_first < project_first;
  }

  std::string name(const char* child) const { return detail::module_path(module_, child); }

  Matrix<T> projected_values(const MatrixView<T>& value_input,
                             const std::optional<Eigen::Ref<const BoolVector>>& padding,
                             Trace<T>* trace) const {
    Matrix<T> value = value_projection_.forward(value_input);
    if (trace) trace->record(name("value_proj"), value);
    if (padding)
      for (Index row = 0; row < value.rows(); ++row)
        if ((*padding)(row)) value.row(row).setZero();
    return value;
  }

  // Softmax over each head's levels x points block of a row.
  void normalize_attention_weights(Matrix<T>& logits) const {
    const Index block = num_levels_ * num_points_;
    for (Index row = 0; row < logits.rows(); ++row)
      for (Index head = 0; head < num_heads_; ++head)
        softmax_row(logits.row(row).segment(head * block, block));
  }

  // Same operation order as HF, so float results agree to the last bits where possible.
  void offsets_to_locations(const MatrixView<T>& reference, const FeatureLevels& levels,
                            Matrix<T>& offsets) const {
    const bool boxes = reference.cols() == 4;
    const T points = static_cast<T>(num_points_);
    for (Index row = 0; row < offsets.rows(); ++row) {
      const T ref_x = reference(row, 0), ref_y = reference(row, 1);
      for (Index head = 0; head < num_heads_; ++head)
        for (Index level = 0; level < num_levels_; ++level) {
          const T width = static_cast<T>(levels.shape(level).width);
          const T height = static_cast<T>(levels.shape(level).height);
          for (Index point = 0; point < num_points_; ++point) {
            T* xy = offsets.row(row).data() + 2 * sample_index(head, level, point);
            if (boxes) {
              xy[0] = ref_x + xy[0] / points * reference(row, 2) * T(0.5);
              xy[1] = ref_y + xy[1] / points * reference(row, 3) * T(0.5);
            } else {
              xy[0] = ref_x + xy[0] / width;
              xy[1] = ref_y + xy[1] / height;
            }
          }
        }
    }
  }

  Index sample_index(Index head, Index level, Index point) const {
    return (head * num_levels_ + level) * num_points_ + point;
  }

  // Calls visit(image, row, head) for every query row and head, rows split across threads.
  template <typename Visit>
  void for_each_query_head(const Samples& samples, Visit&& visit) const {
    const SequenceBatch& batch = samples.query_batch;
    const Index rows = batch.total_rows();
    const Index work = rows * num_heads_ * num_levels_ * num_points_ * head_dim();
    detail::parallel_for(rows, detail::threads_for(rows, work, detail::WorkKind::MultiplyAdds),
                         [&](Index row) {
                           Index image = 0;
                           while (row >= batch.offset(image) + batch.length(image)) ++image;
                           for (Index head = 0; head < num_heads_; ++head) visit(image, row, head);
                         });
  }

  // Calls gather(token, weight) for every in-map neighbour of each of a head's samples:
  // `token` indexes the image's flattened levels, `weight` = attention weight x bilinear
  // weight.
  template <typename Gather>
  void for_each_neighbour(const Samples& samples, Index row, Index head, Gather&& gather) const {
    const T* locations = samples.locations.row(row).data();
    const T* weights = samples.weights.row(row).data();
    for (Index level = 0; level < num_levels_; ++level) {
      const SpatialShape& shape = samples.levels.shape(level);
      const Index start = samples.levels.start(level);
      for (Index point = 0; point < num_points_; ++point) {
        const Index s = sample_index(head, level, point);
        const T weight = weights[s];
        bilinear_neighbours(
            shape, locations[2 * s], locations[2 * s + 1],
            [&](Index pixel, T bilinear) { gather(start + pixel, weight * bilinear); });
      }
    }
  }

  // HF's order: context slice of (row, head) = sum of weighted head slices of projected values.
  void project_then_sample(const Matrix<T>& value, const Samples& samples,
                           Matrix<T>& context) const {
    const Index d = embed_dim(), head_size = head_dim(), tokens = samples.levels.total_tokens();
    for_each_query_head(samples, [&](Index image, Index row, Index head) {
      const T* head_values = value.data() + image * tokens * d + head * head_size;
      ArrayMap acc(context.row(row).data() + head * head_size, head_size);
      acc.setZero();
      for_each_neighbour(samples, row, head, [&](Index token, T weight) {
        acc += weight * ConstArrayMap(head_values + token * d, head_size);
      });
    });
  }

  // Gathers unprojected rows per (query, head) into `gathered` (row query * heads + head) and
  // the summed neighbour weights into `weight_sums`, then projects each head's rows with that
  // head's slice of value_proj: context_h = gathered_h W_h^T + weight_sum_h b_h.
  void sample_then_project(const MatrixView<T>& value_input, const Samples& samples,
                           Matrix<T>& context) const {
    const Index d = embed_dim(), head_size = head_dim(), tokens = samples.levels.total_tokens();
    const Index queries = context.rows(), stride = value_input.outerStride();
    Matrix<T> gathered(queries * num_heads_, d);
    Matrix<T> weight_sums(queries, num_heads_);
    for_each_query_head(samples, [&](Index image, Index row, Index head) {
      const T* image_inputs = value_input.data() + image * tokens * stride;
      const Index image_row0 = image * tokens;
      ArrayMap acc(gathered.row(row * num_heads_ + head).data(), d);
      acc.setZero();
      T weight_sum = 0;
      for_each_neighbour(samples, row, head, [&](Index token, T weight) {
        if (samples.padding && (*samples.padding)(image_row0 + token)) return;
        acc += weight * ConstArrayMap(image_inputs + token * stride, d);
        weight_sum += weight;
      });
      weight_sums(row, head) = weight_sum;
    });
    for (Index head = 0; head < num_heads_; ++head) {
      const Eigen::Map<const Matrix<T>, 0, Eigen::OuterStride<>> head_rows(
          gathered.data() + head * d, queries, d, Eigen::OuterStride<>(num_heads_ * d));
      auto out = context.middleCols(head * head_size, head_size);
      value_heads_[static_cast<std::size_t>(head)].multiply(head_rows, out);
      if (value_projection_.has_bias())
        out.noalias() += weight_sums.col(head) *
                         value_projection_.bias().segment(head * head_size, head_size).transpose();
    }
  }

  // F.grid_sample(mode="bilinear", padding_mode="zeros", align_corners=False) at normalised
  // (x, y): calls visit(pixel, bilinear weight) for each of the four neighbouring pixels that
  // lies inside the map (those outside contribute zero). With align_corners=False the
  // normalised range covers the pixels' outer edges, so pixel i's centre is at (i + 0.5) /
  // size and the continuous pixel coordinate is loc * size - 0.5 (PyTorch: grid = 2 loc - 1,
  // pixel = ((grid + 1) size - 1) / 2).
  template <typename Visit>
  static void bilinear_neighbours(const SpatialShape& shape, T x_loc, T y_loc, Visit&& visit) {
    const T x = x_loc * static_cast<T>(shape.width) - T(0.5);
    const T y = y_loc * static_cast<T>(shape.height) - T(0.5);
    // No neighbour inside the map (this also rejects NaN and huge values before the casts).
    if (!(x > T(-1) && x < static_cast<T>(shape.width) && y > T(-1) &&
          y < static_cast<T>(shape.height)))
      return;
    const T x_floor = std::floor(x), y_floor = std::floor(y);
    const Index x0 = static_cast<Index>(x_floor), y0 = static_cast<Index>(y_floor);
    const T fx = x - x_floor, fy = y - y_floor;
    auto corner = [&](Index xi, Index yi, T weight) {
      if (xi >= 0 && xi < shape.width && yi >= 0 && yi < shape.height)
        visit(yi * shape.width + xi, weight);
    };
    corner(x0, y0, (T(1) - fx) * (T(1) - fy));
    corner(x0 + 1, y0, fx * (T(1) - fy));
    corner(x0, y0 + 1, (T(1) - fx) * fy);
    corner(x0 + 1, y0 + 1, fx * fy);
  }

  Linear<T> value_projection_, sampling_offsets_, attention_weights_, output_projection_;
  Index num_heads_ = 1, num_levels_ = 1, num_points_ = 1;
  std::string module_;
  // value_proj's rows of each head, packed for sample_then_project's per-head products.
  std::vector<PackedWeight<T>> value_heads_;
};

}  // namespace eigenformer
