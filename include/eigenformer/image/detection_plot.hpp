#pragma once
// Drawing detections the way ultralytics 8.3's `results[0].plot()` does (what
// `results[0].show()` displays): per box an outline in the class's palette colour, a filled
// label box above it (inside when it would leave the image's top) with "name 0.93" in the
// Hershey simplex font, boxes drawn last to first so the first ends on top. Annotator's cv2
// path (ultralytics/utils/plotting.py: Colors, Annotator.__init__, get_txt_color,
// box_label) carried over; the drawing primitives are image/draw.hpp's.

#include <eigenformer/core/error.hpp>
#include <eigenformer/image/draw.hpp>
#include <eigenformer/image/image.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace eigenformer {

// One detection in image pixels (x0, y0) top-left to (x1, y1) bottom-right, as
// `results[0].boxes.xyxy` holds it (it may reach outside the image); `label` is the class
// name.
struct PlotBox {
  float x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  int class_id = 0;
  float score = 0;
  std::string label;
};

struct PlotOptions {
  // Outline width in px; 0 picks ultralytics' default from the image size (plot_line_width).
  int line_width = 0;
  bool labels = true;  // draw the label boxes (plot(labels=False) draws outlines only)
  bool scores = true;  // append " 0.93" to the name (plot(conf=False) leaves the name alone)
};

// Ultralytics' 20-colour palette (Colors.palette in plotting.py), in RGB. The class id is
// taken modulo 20 as Python does (non-negative for negative ids).
inline Rgb palette_color(int class_id) {
  static constexpr std::array<std::uint32_t, 20> kPalette = {
      0x042AFF, 0x0BDBEB, 0xF3F3F3, 0x00DFB7, 0x111F68, 0xFF6FDD, 0xFF444F,
      0xCCED00, 0x00F344, 0xBD00FF, 0x00B4FF, 0xDD00BA, 0x00FFFF, 0x26C000,
      0x01FFB3, 0x7D24FF, 0x7B0068, 0xFF1B6C, 0xFC6D2F, 0xA2FF0B};
  const int n = static_cast<int>(kPalette.size());
  const std::uint32_t hex = kPalette[static_cast<std::size_t>((class_id % n + n) % n)];
  return {static_cast<std::uint8_t>(hex >> 16), static_cast<std::uint8_t>(hex >> 8),
          static_cast<std::uint8_t>(hex)};
}

// Annotator.get_txt_color: label text is dark blue (the palette's 0x111F68) on the palette's
// light colours and white on the rest. Ultralytics lists the colours in BGR; these are the
// same colours in RGB. A colour from neither of its lists also gets white, its default.
inline Rgb label_text_color(const Rgb& background) {
  static constexpr std::array<std::uint32_t, 9> kLight = {
      0x0BDBEB, 0xF3F3F3, 0x00DFB7, 0xFF6FDD, 0xCCED00, 0x00F344, 0x00FFFF, 0x01FFB3, 0xA2FF0B};
  const std::uint32_t hex =
      (std::uint32_t{background[0]} << 16) | (std::uint32_t{background[1]} << 8) | background[2];
  for (const std::uint32_t light : kLight)
    if (hex == light) return {0x11, 0x1F, 0x68};
  return {255, 255, 255};
}

// Annotator's default line width: max(round(sum(im.shape) / 2 * 0.003), 2), where im.shape
// is (height, width, 3), so the channel count adds 3 to height + width (an 832 x 832 image
// gets 3, not 2). Python's round() rounds halves to even, as nearbyint does.
inline int plot_line_width(Index width, Index height) {
  const double size = static_cast<double>(width) + static_cast<double>(height) + 3.0;
  return static_cast<int>(std::max(std::nearbyint(size / 2 * 0.003), 2.0));
}

// Where box_label puts a label whose text measures `text` (cv2.getTextSize) for a box whose
// top-left corner is (x, y) in an image `image_width` px wide: a box text.height + 3 px high
// and text.width wide, above the box when y >= that height (else below the top edge,
// inside), moved left to end at the image's right edge when it would pass it.
struct LabelPlacement {
  Index x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // the filled box, corners inclusive
  Index text_x = 0, text_y = 0;          // the text's baseline origin (draw_text)
  bool outside = true;                   // above the detection box
};

inline LabelPlacement place_label(Index image_width, Index x, Index y, const TextSize& text) {
  const Index height = text.height + 3;  // "add pixels to pad text"
  LabelPlacement label;
  label.outside = y >= height;
  if (x > image_width - text.width) x = image_width - text.width;
  label.x0 = x;
  label.y0 = y;
  label.x1 = x + text.width;
  label.y1 = label.outside ? y - height : y + height;
  label.text_x = x;
  label.text_y = label.outside ? y - 2 : y + height - 1;
  return label;
}

namespace detail {

// Python's int() of a box coordinate (truncation toward zero), kept within the drawing
// range; callers have checked it is finite.
inline Index box_coordinate(float v) {
  const double limit = static_cast<double>(kCoordinateLimit);
  return static_cast<Index>(std::clamp(static_cast<double>(v), -limit, limit));
}

// f"{name} {conf:.2f}": the float's exact value rounded to 2 decimals, as Python does.
inline std::string plot_label(const PlotBox& box, const PlotOptions& options) {
  if (!options.scores) return box.label;
  char score[64];
  std::snprintf(score, sizeof score, "%.2f", static_cast<double>(box.score));
  return box.label + " " + score;
}

}  // namespace detail

// Results.plot() for boxes: a copy of `image` with every box drawn, the last first. A box
// with a NaN or infinite coordinate is skipped (ultralytics would fail on it). An empty
// label with scores off draws no label box, as box_label skips an empty label.
inline Image plot_detections(const Image& image, const std::vector<PlotBox>& boxes,
                             const PlotOptions& options = {}) {
  image.check("plot_detections");
  if (options.line_width < 0 || options.line_width > kMaxThickness)
    throw InvalidArgument(detail::concat("plot_detections: line width ", options.line_width,
                                         " is not in 0..", kMaxThickness));
  Image plot = image;
  if (image.empty()) return plot;
  const int line_width =
      options.line_width > 0 ? options.line_width : plot_line_width(image.width, image.height);
  const int font_thickness = std::max(line_width - 1, 1);
  const double font_scale = line_width / 3.0;
  for (auto it = boxes.rbegin(); it != boxes.rend(); ++it) {
    const PlotBox& box = *it;
    if (!std::isfinite(box.x0) || !std::isfinite(box.y0) || !std::isfinite(box.x1) ||
        !std::isfinite(box.y1))
      continue;
    const Rgb color = palette_color(box.class_id);
    const Index x0 = detail::box_coordinate(box.x0), y0 = detail::box_coordinate(box.y0);
    draw_rectangle(plot, x0, y0, detail::box_coordinate(box.x1), detail::box_coordinate(box.y1),
                   color, line_width);
    if (!options.labels) continue;
    const std::string label = detail::plot_label(box, options);
    if (label.empty()) continue;
    const TextSize size = text_size(label, font_scale, font_thickness);
    const LabelPlacement place = place_label(plot.width, x0, y0, size);
    fill_rectangle(plot, place.x0, place.y0, place.x1, place.y1, color);
    draw_text(plot, label, place.text_x, place.text_y, font_scale, label_text_color(color),
              font_thickness);
  }
  return plot;
}

}  // namespace eigenformer
