// Drawing primitives and ultralytics-style detection plots: the rules of ultralytics 8.3.166's
// ultralytics/utils/plotting.py (palette, text colour, line width, label placement), OpenCV
// 4.6's getTextSize figures, clipping, and the reference plot bus-plot.png.
#include <eigenformer/image/detection_plot.hpp>
#include <eigenformer/image/draw.hpp>
#include <eigenformer/image/image_file.hpp>
#include <eigenformer/io/safetensors.hpp>

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <iostream>
#include <limits>

#include "fixture.hpp"

namespace eigenformer {
namespace {

using testing::data_path;

Image filled(Index width, Index height, const Rgb& color) {
  Image image(width, height);
  for (Index y = 0; y < height; ++y)
    for (Index x = 0; x < width; ++x)
      for (Index c = 0; c < 3; ++c) image.at(y, x, c) = color[static_cast<std::size_t>(c)];
  return image;
}

Rgb pixel(const Image& image, Index x, Index y) {
  return {image.at(y, x, 0), image.at(y, x, 1), image.at(y, x, 2)};
}

constexpr Rgb kBlack = {0, 0, 0};
constexpr Rgb kRed = {255, 0, 0};

// Colors.__init__'s hex list in ultralytics 8.3.166's plotting.py: "042AFF", "0BDBEB",
// "F3F3F3", "00DFB7", "111F68", "FF6FDD", "FF444F", "CCED00", "00F344", "BD00FF", "00B4FF",
// "DD00BA", "00FFFF", "26C000", "01FFB3", "7D24FF", "7B0068", "FF1B6C", "FC6D2F", "A2FF0B".
TEST(Palette, IsUltralyticsColorsInRgb) {
  EXPECT_EQ(palette_color(0), (Rgb{0x04, 0x2A, 0xFF}));
  EXPECT_EQ(palette_color(1), (Rgb{0x0B, 0xDB, 0xEB}));
  EXPECT_EQ(palette_color(6), (Rgb{0xFF, 0x44, 0x4F}));
  EXPECT_EQ(palette_color(16), (Rgb{0x7B, 0x00, 0x68}));
  EXPECT_EQ(palette_color(19), (Rgb{0xA2, 0xFF, 0x0B}));
  // colors(i) takes palette[int(i) % 20]: COCO's 40 (wine glass) shares person's blue, and
  // Python's modulo maps -1 to 19.
  EXPECT_EQ(palette_color(40), palette_color(0));
  EXPECT_EQ(palette_color(36), palette_color(16));
  EXPECT_EQ(palette_color(-1), palette_color(19));
  EXPECT_EQ(palette_color(std::numeric_limits<int>::min()), palette_color(12));  // -2^31 % 20 = 12
}

// get_txt_color: (104, 31, 17) in BGR, the palette's 0x111F68, on the colours of its
// dark_colors set (palette entries 1, 2, 3, 5, 7, 8, 12, 14, 19), white on the others.
TEST(Palette, LabelTextIsDarkBlueOnTheLightColours) {
  const Rgb dark = {0x11, 0x1F, 0x68}, white = {255, 255, 255};
  for (int id = 0; id < 20; ++id) {
    const bool light = id == 1 || id == 2 || id == 3 || id == 5 || id == 7 || id == 8 || id == 12 ||
                       id == 14 || id == 19;
    EXPECT_EQ(label_text_color(palette_color(id)), light ? dark : white) << "class " << id;
  }
  EXPECT_EQ(label_text_color({1, 2, 3}), white);
}

// max(round(sum(im.shape) / 2 * 0.003), 2) with im.shape = (h, w, 3).
TEST(PlotLineWidth, FollowsTheAnnotatorDefault) {
  EXPECT_EQ(plot_line_width(810, 1080), 3);    // bus.jpg: 1893 / 2 * 0.003 = 2.84
  EXPECT_EQ(plot_line_width(640, 480), 2);     // 1.68
  EXPECT_EQ(plot_line_width(160, 120), 2);     // 0.42, raised to the minimum 2
  EXPECT_EQ(plot_line_width(832, 832), 3);     // 2.5005: the channel count tips it over 2.5
  EXPECT_EQ(plot_line_width(2500, 1800), 6);   // 6.45
  EXPECT_EQ(plot_line_width(4000, 3000), 11);  // 10.5045
}

// cv2.getTextSize(text, FONT_HERSHEY_SIMPLEX, scale, thickness) with OpenCV 4.6.
TEST(TextSize, MatchesOpenCvGetTextSize) {
  const auto check = [](const std::string& text, double scale, int thickness, Index width,
                        Index height, Index baseline) {
    const TextSize size = text_size(text, scale, thickness);
    EXPECT_EQ(size.width, width) << text;
    EXPECT_EQ(size.height, height) << text;
    EXPECT_EQ(size.baseline, baseline) << text;
  };
  check("wine glass 0.43", 1.0, 2, 251, 22, 10);
  check("person 0.56", 2.0 / 3.0, 1, 128, 15, 6);
  check("Hello, World!", 2.0, 5, 393, 45, 20);
  check("", 1.0, 2, 2, 22, 10);
  check("?", 1.0, 2, 20, 22, 10);
}

// Characters outside printable ASCII are drawn as '?', one per UTF-8 character.
TEST(TextSize, NonAsciiCharactersAreQuestionMarks) {
  const TextSize question = text_size("a??b", 1.0, 2);
  const std::string utf8 =
      "a\xC3\xA9\xE6\x97\xA5"
      "b";  // a, e-acute, a CJK character, b
  const TextSize size = text_size(utf8, 1.0, 2);
  EXPECT_EQ(size.width, question.width);
  EXPECT_EQ(text_size("\xFF\n", 1.0, 2).width, text_size("??", 1.0, 2).width);
  Image a = filled(120, 40, kBlack), b = a;
  draw_text(a, utf8, 5, 30, 1.0, kRed, 2);
  draw_text(b, "a??b", 5, 30, 1.0, kRed, 2);
  EXPECT_EQ(a.pixels, b.pixels);
}

// Thickness 3 is OpenCV's band of half-width 2 about the corners' lines: 5 px in the colour,
// a faint fringe beside them, nothing further out or inside.
TEST(DrawRectangle, CoversOpenCvsBand) {
  Image image = filled(40, 40, kBlack);
  draw_rectangle(image, 10, 10, 29, 29, kRed, 3);
  for (Index x = 8; x <= 12; ++x) EXPECT_EQ(pixel(image, x, 20), kRed) << x;
  for (Index y = 27; y <= 31; ++y) EXPECT_EQ(pixel(image, 20, y), kRed) << y;
  EXPECT_GT(image.at(20, 7, 0), 20);  // OpenCV: 53 of 255
  EXPECT_LT(image.at(20, 7, 0), 90);
  EXPECT_EQ(pixel(image, 6, 20), kBlack);
  EXPECT_EQ(pixel(image, 14, 20), kBlack);
  EXPECT_EQ(pixel(image, 20, 20), kBlack);
}

TEST(FillRectangle, CoversBothCornersInEitherOrder) {
  Image a = filled(20, 20, kBlack), b = a;
  fill_rectangle(a, 5, 6, 9, 8, kRed);
  fill_rectangle(b, 9, 8, 5, 6, kRed);
  EXPECT_EQ(a.pixels, b.pixels);
  for (Index y = 6; y <= 8; ++y)
    for (Index x = 5; x <= 9; ++x) EXPECT_EQ(pixel(a, x, y), kRed);
  EXPECT_GT(a.at(7, 4, 0), 0);
  EXPECT_LT(a.at(7, 4, 0), 255);
  EXPECT_EQ(pixel(a, 3, 7), kBlack);
  EXPECT_EQ(pixel(a, 7, 10), kBlack);
}

// putText's origin is the baseline's left end: glyphs stay within text_size's box around it
// (plus the antialiased fringe), and the cap line lies height - (thickness + 1) / 2 above.
TEST(DrawText, StaysInsideItsTextSizeBox) {
  Image image = filled(200, 80, kBlack);
  const std::string text = "Hg|0.9";
  const TextSize size = text_size(text, 1.5, 3);
  draw_text(image, text, 20, 50, 1.5, kRed, 3);
  Index left = image.width, right = -1, top = image.height, bottom = -1;
  for (Index y = 0; y < image.height; ++y)
    for (Index x = 0; x < image.width; ++x)
      if (pixel(image, x, y) != kBlack) {
        left = std::min(left, x);
        right = std::max(right, x);
        top = std::min(top, y);
        bottom = std::max(bottom, y);
      }
  EXPECT_GE(left, 20 - 2);
  EXPECT_LE(right, 20 + size.width + 2);
  EXPECT_LE(top, 50 - (size.height - 2) + 1);  // the H's top
  EXPECT_GE(bottom, 50);                       // descenders
  // '|' reaches 16 font units above and below glyph y = 0, 9 units above the baseline.
  EXPECT_GE(top, static_cast<Index>(50 - 25 * 1.5 - 4));
  EXPECT_LE(bottom, static_cast<Index>(50 + 7 * 1.5 + 4));
}

// Shapes far outside the image, partly outside, or at the extremes of Index draw what falls
// inside and nothing else. (ASan checks the writes in the sanitizer build.)
TEST(Drawing, ClipsEverythingToTheImage) {
  const Image gray = filled(50, 40, {128, 128, 128});
  const Index huge = std::numeric_limits<Index>::max(), tiny = std::numeric_limits<Index>::min();
  Image image = gray;
  draw_rectangle(image, tiny, tiny, huge, huge, kRed, 3);
  draw_rectangle(image, 1000, 1000, 2000, 2000, kRed, 50);
  fill_rectangle(image, -500, -500, -10, 30, kRed);
  draw_line(image, tiny, 20, tiny / 2, 20, kRed, 9);
  draw_text(image, "far away", 5000, 20, 1.0, kRed, 2);
  draw_text(image, "above", 5, -100, 1.0, kRed, 2);
  draw_text(image, std::string(100000, 'W'), 60, 20, 2.0, kRed, 3);
  EXPECT_EQ(image.pixels, gray.pixels);

  draw_rectangle(image, -10, -10, 20, 20, kRed, 3);
  EXPECT_EQ(pixel(image, 20, 5), kRed);
  EXPECT_EQ(pixel(image, 5, 20), kRed);
  EXPECT_EQ(pixel(image, 30, 30), (Rgb{128, 128, 128}));
  fill_rectangle(image, 45, 35, huge, huge, kRed);
  EXPECT_EQ(pixel(image, 49, 39), kRed);
  draw_line(image, tiny, tiny, huge, huge, kRed, 1);
  EXPECT_EQ(pixel(image, 30, 30), kRed);
  EXPECT_EQ(pixel(image, 49, 0), (Rgb{128, 128, 128}));
  // An 'I' (one stroke, 4 units right of its pen) at the largest scale and thickness covers
  // the whole image.
  draw_text(image, "I", 25 - 4 * static_cast<Index>(kMaxFontScale), 30, kMaxFontScale, kRed,
            kMaxThickness);
  EXPECT_EQ(pixel(image, 49, 0), kRed);
  EXPECT_EQ(pixel(image, 0, 39), kRed);
}

TEST(Drawing, RejectsBadArguments) {
  Image image = filled(10, 10, kBlack);
  EXPECT_THROW(draw_rectangle(image, 0, 0, 5, 5, kRed, 0), InvalidArgument);
  EXPECT_THROW(draw_line(image, 0, 0, 5, 5, kRed, kMaxThickness + 1), InvalidArgument);
  EXPECT_THROW(draw_text(image, "a", 0, 5, 0.0, kRed, 1), InvalidArgument);
  EXPECT_THROW(draw_text(image, "a", 0, 5, std::nan(""), kRed, 1), InvalidArgument);
  EXPECT_THROW(text_size("a", INFINITY, 1), InvalidArgument);
  EXPECT_THROW(text_size("a", 1.0, -1), InvalidArgument);
  EXPECT_THROW(plot_detections(image, {}, {-1}), InvalidArgument);
  image.width = 11;  // pixels no longer match the size
  EXPECT_THROW(draw_rectangle(image, 0, 0, 5, 5, kRed, 1), InvalidArgument);
  EXPECT_THROW(fill_rectangle(image, 0, 0, 5, 5, kRed), InvalidArgument);
  EXPECT_THROW(plot_detections(image, {}), InvalidArgument);
  EXPECT_EQ(plot_detections(Image(), {{0, 0, 1, 1, 0, 0.5f, "a"}}).pixels.size(), 0u);
}

// box_label: the label box is text height + 3 px high, above the box when the box's top is
// at least that far down, else inside; moved left to end at the image's right edge.
TEST(PlaceLabel, GoesInsideNearTheTopAndStaysInTheWidth) {
  const TextSize size{128, 15, 6};  // "person 0.56" at line width 2
  const LabelPlacement above = place_label(640, 20, 18, size);
  EXPECT_TRUE(above.outside);
  EXPECT_EQ(above.y0, 18);
  EXPECT_EQ(above.y1, 0);
  EXPECT_EQ(above.text_y, 16);
  const LabelPlacement inside = place_label(640, 20, 17, size);
  EXPECT_FALSE(inside.outside);
  EXPECT_EQ(inside.y1, 35);
  EXPECT_EQ(inside.text_y, 34);
  EXPECT_EQ(inside.x0, 20);
  EXPECT_EQ(inside.x1, 148);
  const LabelPlacement right = place_label(640, 600, 100, size);
  EXPECT_EQ(right.x0, 512);
  EXPECT_EQ(right.x1, 640);
  EXPECT_EQ(right.text_x, 512);
}

TEST(PlotDetections, LabelNearTheTopEdgeIsDrawnInsideTheBox) {
  const Image image = filled(200, 100, {90, 90, 90});
  const Image plot = plot_detections(image, {{20.7f, 5.2f, 150.f, 90.f, 0, 0.5f, "person"}});
  // Line width 2 (sum 303), font 2/3 with thickness 1: the label box is 15 + 3 px high, so at
  // y = 5 it goes inside, rows 5..23, and nothing is drawn above the box's band.
  const Rgb blue = palette_color(0);
  EXPECT_EQ(pixel(plot, 20, 23), blue);
  EXPECT_EQ(pixel(plot, 20, 24), blue);  // the outline below the label
  for (Index x = 0; x < 200; ++x) EXPECT_EQ(pixel(plot, x, 1), pixel(image, x, 1)) << x;
  bool white_text = false;
  for (Index y = 6; y < 23; ++y)
    for (Index x = 22; x < 140; ++x) white_text |= pixel(plot, x, y) == Rgb{255, 255, 255};
  EXPECT_TRUE(white_text);
}

// Not-finite boxes are skipped; boxes outside draw nothing, partly outside draw their visible
// part; float coordinates at the extremes of float are clamped, not overflowed.
TEST(PlotDetections, BoxesOutsideTheImageOrNotFiniteAreSafe) {
  const Image image = filled(64, 48, {70, 80, 90});
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const float big = std::numeric_limits<float>::max();
  EXPECT_EQ(plot_detections(image, {{nan, 1, 10, 10, 0, 0.9f, "a"},
                                    {1, 1, 10, inf, 0, 0.9f, "b"},
                                    {1000, 1000, 2000, 2000, 3, 0.9f, "far"},
                                    {-big, -big, -1e9f, -1e9f, 4, 0.9f, "before"},
                                    {1e9f, 1e9f, big, big, 5, 0.9f, "beyond"}})
                .pixels,
            image.pixels);
  const Image partly = plot_detections(
      image, {{-30, -30, 20, 20, 6, 0.9f, "cut"}, {-big, 30, big, 30.5f, 7, nan, "line"}});
  EXPECT_EQ(pixel(partly, 20, 10), palette_color(6));
  EXPECT_EQ(pixel(partly, 40, 30), palette_color(7));
  EXPECT_EQ(pixel(partly, 40, 40), pixel(image, 40, 40));
}

// The first box ends on top: boxes are drawn from the last to the first.
TEST(PlotDetections, DrawsTheFirstBoxLast) {
  const Image image = filled(120, 120, kBlack);
  PlotOptions outlines;
  outlines.labels = false;
  const Image plot = plot_detections(
      image, {{30, 30, 90, 90, 1, 0.9f, "first"}, {60, 10, 100, 60, 2, 0.8f, "second"}}, outlines);
  EXPECT_EQ(pixel(plot, 60, 30), palette_color(1));  // where the outlines cross
  EXPECT_EQ(pixel(plot, 60, 20), palette_color(2));
}

// labels=False draws outlines only; conf=False labels with the name alone. Composed from the
// primitives, as box_label draws.
TEST(PlotDetections, OptionsDropLabelsOrScores) {
  const Image image = filled(160, 120, {30, 60, 90});
  const PlotBox box{20.9f, 40.1f, 120.f, 100.f, 5, 0.875f, "cat"};
  PlotOptions no_labels;
  no_labels.labels = false;
  Image expected = image;
  draw_rectangle(expected, 20, 40, 120, 100, palette_color(5), 2);
  EXPECT_EQ(plot_detections(image, {box}, no_labels).pixels, expected.pixels);

  PlotOptions names_only;
  names_only.scores = false;
  names_only.line_width = 4;  // font scale 4 / 3, thickness 3
  expected = image;
  draw_rectangle(expected, 20, 40, 120, 100, palette_color(5), 4);
  const TextSize size = text_size("cat", 4 / 3.0, 3);
  const LabelPlacement place = place_label(160, 20, 40, size);
  fill_rectangle(expected, place.x0, place.y0, place.x1, place.y1, palette_color(5));
  draw_text(expected, "cat", place.text_x, place.text_y, 4 / 3.0, {0x11, 0x1F, 0x68}, 3);
  EXPECT_EQ(plot_detections(image, {box}, names_only).pixels, expected.pixels);
  EXPECT_EQ(detail::plot_label(box, {}), "cat 0.88");  // 0.875 in binary is exact: to even
}

// Per-pixel absolute difference summed over channels, as one value per pixel.
int difference(const Image& a, const Image& b, Index x, Index y) {
  int sum = 0;
  for (Index c = 0; c < 3; ++c) sum += std::abs(int{a.at(y, x, c)} - int{b.at(y, x, c)});
  return sum;
}

// Pixels that `plot` changed from `image`, grown by `margin` px.
std::vector<bool> footprint(const Image& image, const Image& plot, Index margin) {
  std::vector<bool> changed(static_cast<std::size_t>(image.width * image.height), false);
  for (Index y = 0; y < image.height; ++y)
    for (Index x = 0; x < image.width; ++x) {
      if (difference(image, plot, x, y) == 0) continue;
      for (Index v = std::max<Index>(y - margin, 0); v <= std::min(y + margin, image.height - 1);
           ++v)
        for (Index u = std::max<Index>(x - margin, 0); u <= std::min(x + margin, image.width - 1);
             ++u)
          changed[static_cast<std::size_t>(v * image.width + u)] = true;
    }
  return changed;
}

// The tiny RT-DETR's top 10 queries on bus.jpg drawn as ultralytics' results[0].plot() drew
// them (tests/data/ultralytics/README.md, io.json "cases"."bus"."plot").
TEST(PlotDetections, MatchesUltralyticsBusPlot) {
  nlohmann::json io;
  std::ifstream(data_path("ultralytics/io.json")) >> io;
  const nlohmann::json& plot_case = io.at("cases").at("bus").at("plot");
  const auto tensors = SafeTensorsFile::open(data_path("ultralytics/io.safetensors"));
  const Tensor<float> xyxy = tensors->tensor<float>("bus.det_xyxy");
  const Tensor<float> conf = tensors->tensor<float>("bus.det_conf");
  const Tensor<std::int64_t> cls = tensors->tensor<std::int64_t>("bus.det_cls");
  const Tensor<std::int64_t> query = tensors->tensor<std::int64_t>("bus.det_query");
  std::vector<PlotBox> boxes;
  for (const auto& wanted : plot_case.at("queries"))
    for (Index i = 0; i < query.size(); ++i)
      if (query.data()[i] == wanted.get<std::int64_t>()) {
        const float* b = xyxy.data() + 4 * i;
        const int id = static_cast<int>(cls.data()[i]);
        boxes.push_back({b[0], b[1], b[2], b[3], id, conf.data()[i],
                         io.at("model").at("names").at(std::to_string(id)).get<std::string>()});
      }
  ASSERT_EQ(boxes.size(), 10u);
  for (std::size_t i = 0; i < boxes.size(); ++i)
    EXPECT_EQ(detail::plot_label(boxes[i], {}),
              plot_case.at("labels_in_query_order").at(i).get<std::string>());

  const Image source = load_image(data_path("ultralytics/bus.jpg"));
  const Image reference = load_image(data_path("ultralytics/bus-plot.png"));
  const Image plot = plot_detections(source, boxes);
  ASSERT_EQ(plot.width, reference.width);
  ASSERT_EQ(plot.height, reference.height);

  // Away from the drawings (3 px beyond every pixel drawn) the images are the decoded JPEG:
  // equal when load_image decodes as OpenCV does (libjpeg at its defaults).
  const std::vector<bool> drawn = footprint(source, plot, 3);
  Index far = 0, far_differing = 0;
  int far_max = 0;
  for (Index y = 0; y < plot.height; ++y)
    for (Index x = 0; x < plot.width; ++x)
      if (!drawn[static_cast<std::size_t>(y * plot.width + x)]) {
        const int d = difference(plot, reference, x, y);
        ++far;
        far_differing += d > 0;
        far_max = std::max(far_max, d);
      }
  EXPECT_EQ(far_differing, 0) << "of " << far << " pixels away from the drawings, max diff "
                              << far_max;

  // Outline centre lines: where neither the box's own label nor a later-drawn box or label
  // covers them (within 1 px), both images hold the palette colour exactly.
  Index centre = 0, centre_wrong = 0, centre_reference_wrong = 0;
  for (std::size_t i = 0; i < boxes.size(); ++i) {
    const std::vector<PlotBox> later(boxes.begin(), boxes.begin() + static_cast<std::ptrdiff_t>(i));
    const Image blank = filled(plot.width, plot.height, {1, 2, 3});
    const std::vector<bool> covered = footprint(blank, plot_detections(blank, later), 1);
    const Index x0 = static_cast<Index>(boxes[i].x0), y0 = static_cast<Index>(boxes[i].y0);
    const Index x1 = static_cast<Index>(boxes[i].x1), y1 = static_cast<Index>(boxes[i].y1);
    const Rgb color = palette_color(boxes[i].class_id);
    // The label's descenders ('g') reach below its box.
    const TextSize size = text_size(detail::plot_label(boxes[i], {}), 1, 2);
    const LabelPlacement own = place_label(plot.width, x0, y0, size);
    const auto in_own_label = [&](Index x, Index y) {
      return x >= own.x0 - 1 && x <= own.x1 + 1 && y >= std::min(own.y0, own.y1) - 1 &&
             y <= std::max({own.y0, own.y1, own.text_y + size.baseline}) + 1;
    };
    const auto check = [&](Index x, Index y) {
      if (x < 0 || y < 0 || x >= plot.width || y >= plot.height ||
          covered[static_cast<std::size_t>(y * plot.width + x)] || in_own_label(x, y))
        return;
      ++centre;
      centre_wrong += pixel(plot, x, y) != color;
      centre_reference_wrong += pixel(reference, x, y) != color;
    };
    for (Index x = x0; x <= x1; ++x) check(x, y0), check(x, y1);
    for (Index y = y0; y <= y1; ++y) check(x0, y), check(x1, y);
  }
  EXPECT_GT(centre, 2500);
  EXPECT_EQ(centre_wrong, 0) << "of " << centre << " outline centre pixels";
  EXPECT_EQ(centre_reference_wrong, 0);

  // Label boxes (text antialiased by this library's own rule, not OpenCV's filter tables):
  // mean absolute difference per channel value over the visible label boxes. Measured 2.2
  // (2.1 to 2.5 per label); the same text 1 px right or down measures 17.5 / 14.9, with
  // thickness 3 instead of 2 24, so 4 passes antialiasing differences only.
  std::vector<bool> in_label(static_cast<std::size_t>(plot.width * plot.height), false);
  for (const PlotBox& box : boxes) {
    const std::string label = detail::plot_label(box, {});
    const LabelPlacement place = place_label(plot.width, static_cast<Index>(box.x0),
                                             static_cast<Index>(box.y0), text_size(label, 1, 2));
    for (Index y = std::max<Index>(std::min(place.y0, place.y1), 0);
         y <= std::min(std::max(place.y0, place.y1), plot.height - 1); ++y)
      for (Index x = std::max<Index>(place.x0, 0); x <= std::min(place.x1, plot.width - 1); ++x)
        in_label[static_cast<std::size_t>(y * plot.width + x)] = true;
  }
  double label_sum = 0;
  Index label_pixels = 0;
  for (Index y = 0; y < plot.height; ++y)
    for (Index x = 0; x < plot.width; ++x)
      if (in_label[static_cast<std::size_t>(y * plot.width + x)]) {
        label_sum += difference(plot, reference, x, y);
        ++label_pixels;
      }
  const double label_mad = label_sum / (3.0 * static_cast<double>(label_pixels));
  EXPECT_GT(label_pixels, 30000);  // 7 labels are visible, 3 lie above the image
  EXPECT_LT(label_mad, 4.0);
  std::cout << "bus plot: " << far << " pixels away from drawings, " << far_differing << " differ; "
            << centre << " outline centre pixels, " << centre_wrong
            << " not the palette colour; label boxes " << label_pixels << " pixels, mean abs diff "
            << label_mad << "\n";
}

}  // namespace
}  // namespace eigenformer
