#pragma once
// Drawing on an Image the way OpenCV's cv2.rectangle and cv2.putText draw with LINE_AA, so
// that detections look like ultralytics' plots: box outlines, filled rectangles, and text in
// the Hershey simplex stroke font.
//
// Coordinates are integers with pixel centres at integer positions (OpenCV's convention).
// Shapes follow OpenCV's geometry: a line of thickness t is a band of half-width
// (t + t % 2) / 2 around the segment with discs of radius t / 2 on its ends, and a pixel
// whose centre lies inside a shape takes the colour exactly. Antialiasing is this
// library's own: a pixel outside takes a fraction that falls with its distance to the shape
// (calibrated against OpenCV 4.6), not OpenCV's filter tables, so edge pixels differ from
// OpenCV's by a few levels while covered pixels match exactly.
//
// Everything is clipped to the image: coordinates may be negative or far outside. They are
// clamped to +-kCoordinateLimit first (16.7 M px, far beyond Image::kMaxSide), which leaves
// axis-aligned shapes unchanged inside the image.
//
// The font: Hershey's Roman simplex glyphs as OpenCV's FONT_HERSHEY_SIMPLEX maps them to
// printable ASCII. The Hershey Fonts were originally created by Dr. A. V. Hershey while
// working at the U. S. National Bureau of Standards. The format of the font data in this
// distribution was originally created by James Hurt, Cognition, Inc., 900 Technology Park
// Drive, Billerica, MA 01821.

#include <eigenformer/core/error.hpp>
#include <eigenformer/image/image.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace eigenformer {

using Rgb = std::array<std::uint8_t, 3>;

struct TextSize {
  Index width = 0;     // cv2.getTextSize's width: the advances times the scale, plus thickness
  Index height = 0;    // cap height above the baseline (21 font units) times the scale, plus
                       // (thickness + 1) / 2
  Index baseline = 0;  // depth below the baseline: 9 units times the scale, plus thickness / 2
};

namespace detail {

// Hershey Roman simplex for ASCII 32..126, one string per character in Hurt's format: the
// first two letters are the glyph's left and right edges, then pen positions, each a pair
// of letters whose codes minus 'R' give x and y (y down; the cap line is y = -12, the
// baseline y = 9); a space lifts the pen. These are the glyphs OpenCV draws for
// FONT_HERSHEY_SIMPLEX (Hershey numbers 501-526, 601-626, 690-734 and a few others).
// clang-format off
inline constexpr const char* kHersheySimplex[95] = {
    "JZ", "MWRFRT RYQZR[SZRY", "JZNFNM VFVM", "G]OFOb UFUb JQZQ JWZW",
    "H\\PBP_ TBT_ YIWGTFPFMGKIKKLMMNOOUQWRXSYUYXWZT[P[MZKX",
    "F^[FYGVHSHPGNFLFJGIIIKKMMMOLPJPHNF [FI[ YTWTUUTWTYV[X[ZZ[X[VYT",
    "E_\\O\\N[MZMYNXPVUTXRZP[L[JZIYHWHUISJRQNRMSKSIRGPFNGMIMKNNPQUXWZY[[[\\Z\\Y", "NVRFRM",
    "KYVBTDRGPKOPOTPYR]T`Vb", "KYNBPDRGTKUPUTTYR]P`Nb", "JZRLRX MOWU WOMU", "E_RIR[ IR[R",
    "MWSZR[QZRYSZS\\R^Q_", "E_IR[R", "MWRYQZR[SZRY", "G][BIb",
    "H\\QFNGLJKOKRLWNZQ[S[VZXWYRYOXJVGSFQF", "H\\NJPISFS[", "H\\LKLJMHNGPFTFVGWHXJXLWNUQK[Y[",
    "H\\MFXFRNUNWOXPYSYUXXVZS[P[MZLYKW", "H\\UFKTZT UFU[",
    "H\\WFMFLOMNPMSMVNXPYSYUXXVZS[P[MZLYKW",
    "H\\XIWGTFRFOGMJLOLTMXOZR[S[VZXXYUYTXQVOSNRNOOMQLT", "H\\YFO[ KFYF",
    "H\\PFMGLILKMMONSOVPXRYTYWXYWZT[P[MZLYKWKTLRNPQOUNWMXKXIWGTFPF",
    "H\\XMWPURRSQSNRLPKMKLLINGQFRFUGWIXMXRWWUZR[P[MZLX", "MWRMQNROSNRM RYQZR[SZRY",
    "MWRMQNROSNRM SZR[QZRYSZS\\R^Q_", "F^ZIJRZ[", "E_IO[O IU[U", "F^JIZRJ[",
    "I[LKLJMHNGPFTFVGWHXJXLWNVORQRT RYQZR[SZRY",
    "DaWNVLTKQKOLNMMOMRNTOUQVTVVUWS WKWSXUYV[V\\U]S]O\\L[JYHWGTFQFNGLHJJILHOHRIUJWLYNZQ[T[WZYY",
    "I[RFJ[ RFZ[ MTWT", "G\\KFK[ KFTFWGXHYJYLXNWOTP KPTPWQXRYTYWXYWZT[K[",
    "H]ZKYIWGUFQFOGMILKKNKSLVMXOZQ[U[WZYXZV", "G\\KFK[ KFRFUGWIXKYNYSXVWXUZR[K[",
    "H[LFL[ LFYF LPTP L[Y[", "HZLFL[ LFYF LPTP",
    "H]ZKYIWGUFQFOGMILKKNKSLVMXOZQ[U[WZYXZVZS USZS", "G]KFK[ YFY[ KPYP", "NVRFR[",
    "JZVFVVUYTZR[P[NZMYLVLT", "G\\KFK[ YFKT POY[", "HYLFL[ L[X[", "F^JFJ[ JFR[ ZFR[ ZFZ[",
    "G]KFK[ KFY[ YFY[", "G]PFNGLIKKJNJSKVLXNZP[T[VZXXYVZSZNYKXIVGTFPF",
    "G\\KFK[ KFTFWGXHYJYMXOWPTQKQ", "G]PFNGLIKKJNJSKVLXNZP[T[VZXXYVZSZNYKXIVGTFPF SWY]",
    "G\\KFK[ KFTFWGXHYJYLXNWOTPKP RPY[", "H\\YIWGTFPFMGKIKKLMMNOOUQWRXSYUYXWZT[P[MZKX",
    "JZRFR[ KFYF", "G]KFKULXNZQ[S[VZXXYUYF", "I[JFR[ ZFR[", "F^HFM[ RFM[ RFW[ \\FW[",
    "H\\KFY[ YFK[", "I[JFRPR[ ZFRP", "H\\YFK[ KFYF K[Y[", "KYOBOb OBVB ObVb", "G]IL[b",
    "KYUBUb NBUB NbUb", "G]JTROZT JTRPZT", "I[J[Z[", "LXPFUL PFOGUL",
    "I\\XMX[ XPVNTMQMONMPLSLUMXOZQ[T[VZXX", "H[LFL[ LPNNPMSMUNWPXSXUWXUZS[P[NZLX",
    "I[XPVNTMQMONMPLSLUMXOZQ[T[VZXX", "I\\XFX[ XPVNTMQMONMPLSLUMXOZQ[T[VZXX",
    "I[LSXSXQWOVNTMQMONMPLSLUMXOZQ[T[VZXX", "MYWFUFSGRJR[ OMVM",
    "I\\XMX]W`VaTbQbOa XPVNTMQMONMPLSLUMXOZQ[T[VZXX", "I\\MFM[ MQPNRMUMWNXQX[",
    "NVQFRGSFREQF RMR[", "MWRFSGTFSERF SMS^RaPbNb", "IZMFM[ WMMW QSX[", "NVRFR[",
    "CaGMG[ GQJNLMOMQNRQR[ RQUNWMZM\\N]Q][", "I\\MMM[ MQPNRMUMWNXQX[",
    "I\\QMONMPLSLUMXOZQ[T[VZXXYUYSXPVNTMQM", "H[LMLb LPNNPMSMUNWPXSXUWXUZS[P[NZLX",
    "I\\XMXb XPVNTMQMONMPLSLUMXOZQ[T[VZXX", "KXOMO[ OSPPRNTMWM",
    "J[XPWNTMQMNNMPNRPSUTWUXWXXWZT[Q[NZMX", "MYRFRWSZU[W[ OMVM", "I\\MMMWNZP[S[UZXW XMX[",
    "JZLMR[ XMR[", "G]JMN[ RMN[ RMV[ ZMV[", "J[MMX[ XMM[", "JZLMR[ XMR[P_NaLbKb",
    "J[XMM[ MMXM M[X[", "KYTBQEPHPJQMSOSPORSTSUQWPZP\\Q_Tb", "NVRBRb",
    "KYPBSETHTJSMQOQPURQTQUSWTZT\\S_Pb", "F^IUISJPLONOPPTSVTXTZS[Q ISJQLPNPPQTTVUXUZT[Q[O",
};
// clang-format on

// In font units: the cap line is 12 above glyph y = 0 and the baseline 9 below it.
inline constexpr int kHersheyCapLine = 12;
inline constexpr int kHersheyBaseLine = 9;

}  // namespace detail

// Coordinates are clamped to this before drawing (see the top of this file).
inline constexpr Index kCoordinateLimit = Index{1} << 24;
// OpenCV's limit too; wider lines would only cover the image.
inline constexpr int kMaxThickness = 32767;
// Font scales beyond this draw glyphs far larger than any image.
inline constexpr double kMaxFontScale = 10000.0;

namespace detail {

inline double clamped_coordinate(Index v) {
  return static_cast<double>(std::clamp(v, -kCoordinateLimit, kCoordinateLimit));
}

// What a pixel covers: the band of half-width `half` around segment a-b (flat ends), or,
// for a disc, the disc of radius `half` around a.
struct StrokeShape {
  double ax, ay, bx, by, half;
  bool disc;
};

// Coverage of a pixel whose centre lies `distance` px outside the shapes: 1 inside, then a
// smooth fall to 0 at 1.4 px. Fitted to OpenCV 4.6's LINE_AA polygons: 0.2 at 1 px off an
// axis-aligned edge, 0.73 / 0.44 / 0.19 at 0.48 / 0.74 / 1.0 px off a sloped one.
inline constexpr double kEdgeReach = 1.4;
inline double edge_coverage(double distance) {
  if (distance <= 1e-9) return 1.0;
  if (distance >= kEdgeReach) return 0.0;
  const double t = distance / kEdgeReach;
  return 1.0 - t * t * (3.0 - 2.0 * t);
}

inline double shape_distance(const StrokeShape& s, double x, double y) {
  const double dx = x - s.ax, dy = y - s.ay;
  if (s.disc) return std::hypot(dx, dy) - s.half;
  const double ux = s.bx - s.ax, uy = s.by - s.ay;
  const double length = std::hypot(ux, uy);
  const double along = (dx * ux + dy * uy) / length;
  // A zero-width band is OpenCV's 1 px line, whose antialiasing spreads along the minor
  // axis (y for flat lines, x for steep ones): distance is measured along that axis.
  const double across =
      std::abs(dx * uy - dy * ux) / (s.half > 0 ? length : std::max(std::abs(ux), std::abs(uy)));
  const double beyond_ends = std::max(-along, along - length);
  const double outside = std::max(across - s.half, 0.0);
  return beyond_ends > 0 ? std::hypot(beyond_ends, outside) : across - s.half;
}

// The pixels a shape can touch, clipped to the image; empty when x0 > x1 or y0 > y1.
struct PixelBox {
  Index x0, y0, x1, y1;
};

inline PixelBox shape_box(const StrokeShape& s, const Image& image) {
  const double reach = s.half + kEdgeReach;
  const double left = std::min(s.ax, s.disc ? s.ax : s.bx) - reach;
  const double right = std::max(s.ax, s.disc ? s.ax : s.bx) + reach;
  const double top = std::min(s.ay, s.disc ? s.ay : s.by) - reach;
  const double bottom = std::max(s.ay, s.disc ? s.ay : s.by) + reach;
  // The clamps keep the casts in range; coordinates are at most kCoordinateLimit plus a
  // thickness or a text's extent, so they are finite.
  const auto pixel = [](double v, Index size) {
    return static_cast<Index>(std::clamp(v, -1.0, static_cast<double>(size)));
  };
  return {std::max<Index>(pixel(std::ceil(left), image.width), 0),
          std::max<Index>(pixel(std::ceil(top), image.height), 0),
          std::min(pixel(std::floor(right), image.width), image.width - 1),
          std::min(pixel(std::floor(bottom), image.height), image.height - 1)};
}

inline void blend(Image& image, Index x, Index y, const Rgb& color, double coverage) {
  for (Index c = 0; c < Image::kChannels; ++c) {
    std::uint8_t& value = image.at(y, x, c);
    const double mixed = value + (color[static_cast<std::size_t>(c)] - value) * coverage;
    value = static_cast<std::uint8_t>(std::lround(mixed));
  }
}

// Blends `color` into the pixels covered by the union of `shapes`, each pixel once with its
// largest coverage (overlapping strokes do not darken their joints). Works a row at a time,
// visiting only each shape's box, so a huge shape costs at most the image's area.
inline void fill_shapes(Image& image, const std::vector<StrokeShape>& shapes, const Rgb& color) {
  if (image.empty() || shapes.empty()) return;
  std::vector<PixelBox> boxes;
  boxes.reserve(shapes.size());
  PixelBox all{image.width, image.height, -1, -1};
  for (const StrokeShape& shape : shapes) {
    const PixelBox box = shape_box(shape, image);
    boxes.push_back(box);
    if (box.x0 > box.x1 || box.y0 > box.y1) continue;
    all = {std::min(all.x0, box.x0), std::min(all.y0, box.y0), std::max(all.x1, box.x1),
           std::max(all.y1, box.y1)};
  }
  if (all.x0 > all.x1) return;
  std::vector<double> row(static_cast<std::size_t>(all.x1 - all.x0 + 1), 0.0);
  for (Index y = all.y0; y <= all.y1; ++y) {
    bool touched = false;
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      const PixelBox& box = boxes[i];
      if (y < box.y0 || y > box.y1 || box.x0 > box.x1) continue;
      for (Index x = box.x0; x <= box.x1; ++x) {
        double& coverage = row[static_cast<std::size_t>(x - all.x0)];
        const double c = edge_coverage(
            shape_distance(shapes[i], static_cast<double>(x), static_cast<double>(y)));
        if (c > coverage) coverage = c;
      }
      touched = true;
    }
    if (!touched) continue;
    // Blend what this row's boxes covered, clearing as we go so overlapping boxes blend once.
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      const PixelBox& box = boxes[i];
      if (y < box.y0 || y > box.y1 || box.x0 > box.x1) continue;
      for (Index x = box.x0; x <= box.x1; ++x) {
        double& coverage = row[static_cast<std::size_t>(x - all.x0)];
        if (coverage > 0) blend(image, x, y, color, coverage);
        coverage = 0;
      }
    }
  }
}

// OpenCV's thick line: a band of half-width (t + t % 2) / 2 (a thin line for t = 1) and
// discs of radius t / 2 on the ends asked for; a zero-length segment is its discs only.
inline void add_line(std::vector<StrokeShape>& shapes, double x0, double y0, double x1, double y1,
                     int thickness, bool start_cap, bool end_cap) {
  const double band = thickness <= 1 ? 0.0 : (thickness + thickness % 2) / 2.0;
  if (std::hypot(x1 - x0, y1 - y0) > 1e-9) shapes.push_back({x0, y0, x1, y1, band, false});
  if (thickness <= 1) return;
  if (start_cap) shapes.push_back({x0, y0, x0, y0, thickness / 2.0, true});
  if (end_cap) shapes.push_back({x1, y1, x1, y1, thickness / 2.0, true});
}

inline void check_drawing(const Image& image, int thickness, const char* what) {
  image.check(what);
  if (thickness < 1 || thickness > kMaxThickness)
    throw InvalidArgument(
        detail::concat(what, ": thickness ", thickness, " is not in 1..", kMaxThickness));
}

inline void check_font_scale(double scale, const char* what) {
  if (!(scale > 0 && scale <= kMaxFontScale))
    throw InvalidArgument(
        detail::concat(what, ": font scale ", scale, " is not in (0, ", kMaxFontScale, "]"));
}

// The glyph drawn for byte `c` of a UTF-8 string and how many bytes it takes: printable
// ASCII as is, anything else (controls, each multi-byte character, stray bytes) as '?'.
inline const char* glyph_at(const std::string& text, std::size_t i, std::size_t& bytes) {
  const auto c = static_cast<unsigned char>(text[i]);
  bytes = 1;
  if (c >= 0xC0) {
    const std::size_t length = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    while (bytes < length && i + bytes < text.size() &&
           (static_cast<unsigned char>(text[i + bytes]) & 0xC0) == 0x80)
      ++bytes;
  }
  const int code = c >= 32 && c < 127 ? c : '?';
  return kHersheySimplex[code - 32];
}

inline int glyph_coordinate(char c) { return static_cast<unsigned char>(c) - 'R'; }

// OpenCV's font scale in its 16.16 fixed point, which putText draws with.
inline double fixed_point_scale(double scale) { return std::nearbyint(scale * 65536.0) / 65536.0; }

}  // namespace detail

// cv2.rectangle(image, (x0, y0), (x1, y1), color, thickness, cv2.LINE_AA): the closed outline
// through the four corners, centred on them (a thickness-3 outline covers 5 px across).
inline void draw_rectangle(Image& image, Index x0, Index y0, Index x1, Index y1, const Rgb& color,
                           int thickness) {
  detail::check_drawing(image, thickness, "draw_rectangle");
  const double left = detail::clamped_coordinate(x0), top = detail::clamped_coordinate(y0);
  const double right = detail::clamped_coordinate(x1), bottom = detail::clamped_coordinate(y1);
  std::vector<detail::StrokeShape> shapes;
  detail::add_line(shapes, left, bottom, left, top, thickness, false, true);
  detail::add_line(shapes, left, top, right, top, thickness, false, true);
  detail::add_line(shapes, right, top, right, bottom, thickness, false, true);
  detail::add_line(shapes, right, bottom, left, bottom, thickness, false, true);
  detail::fill_shapes(image, shapes, color);
}

// cv2.rectangle(..., thickness=-1, cv2.LINE_AA): every pixel from (x0, y0) to (x1, y1)
// inclusive (in either order) takes the colour, with an antialiased fringe outside.
inline void fill_rectangle(Image& image, Index x0, Index y0, Index x1, Index y1, const Rgb& color) {
  image.check("fill_rectangle");
  const double left = detail::clamped_coordinate(std::min(x0, x1));
  const double right = detail::clamped_coordinate(std::max(x0, x1));
  const double top = detail::clamped_coordinate(std::min(y0, y1));
  const double bottom = detail::clamped_coordinate(std::max(y0, y1));
  const double middle = (top + bottom) / 2;
  // A horizontal band whose half-width reaches both edges; a single row or column is a
  // zero-width band, a single pixel a disc of radius 0.
  if (left == right)
    detail::fill_shapes(image, {{left, top, left, bottom, 0.0, top == bottom}}, color);
  else
    detail::fill_shapes(image, {{left, middle, right, middle, (bottom - top) / 2, false}}, color);
}

// cv2.line(..., thickness, cv2.LINE_AA) with round caps on both ends.
inline void draw_line(Image& image, Index x0, Index y0, Index x1, Index y1, const Rgb& color,
                      int thickness) {
  detail::check_drawing(image, thickness, "draw_line");
  std::vector<detail::StrokeShape> shapes;
  detail::add_line(shapes, detail::clamped_coordinate(x0), detail::clamped_coordinate(y0),
                   detail::clamped_coordinate(x1), detail::clamped_coordinate(y1), thickness, true,
                   true);
  detail::fill_shapes(image, shapes, color);
}

// cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness), in the same integer
// rounding; a character that is not printable ASCII counts as '?' (see draw_text).
inline TextSize text_size(const std::string& text, double scale, int thickness) {
  detail::check_font_scale(scale, "text_size");
  if (thickness < 1 || thickness > kMaxThickness)
    throw InvalidArgument(
        detail::concat("text_size: thickness ", thickness, " is not in 1..", kMaxThickness));
  double advance = 0;
  for (std::size_t i = 0, bytes = 0; i < text.size(); i += bytes) {
    const char* glyph = detail::glyph_at(text, i, bytes);
    advance += (detail::glyph_coordinate(glyph[1]) - detail::glyph_coordinate(glyph[0])) * scale;
  }
  TextSize size;
  size.width = static_cast<Index>(std::nearbyint(advance + thickness));
  size.height = static_cast<Index>(std::nearbyint(
      (detail::kHersheyCapLine + detail::kHersheyBaseLine) * scale + (thickness + 1) / 2));
  size.baseline =
      static_cast<Index>(std::nearbyint(detail::kHersheyBaseLine * scale + thickness * 0.5));
  return size;
}

// cv2.putText(image, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, color, thickness,
// cv2.LINE_AA): (x, y) is the left end of the baseline; the cap line is 21 * scale px above
// it (text_size's height, less the thickness). Strokes are lines of the given thickness
// through the glyphs' pen positions. Text is one line (a newline is not printable: '?').
// A character outside printable ASCII draws '?': one per UTF-8 character, where OpenCV
// draws one per byte (ultralytics switches to a TrueType font for such labels instead).
inline void draw_text(Image& image, const std::string& text, Index x, Index y, double scale,
                      const Rgb& color, int thickness) {
  detail::check_drawing(image, thickness, "draw_text");
  detail::check_font_scale(scale, "draw_text");
  const double step = detail::fixed_point_scale(scale);
  // Glyph y = 0 lies 9 units above the baseline; glyphs reach 16 units either side of it
  // (brackets, descenders). Glyphs wholly outside the image are skipped, which bounds the
  // work for long strings.
  const double middle = detail::clamped_coordinate(y) - detail::kHersheyBaseLine * step;
  const double margin = thickness + detail::kEdgeReach + 1;
  if (middle + 16 * step + margin < 0 ||
      middle - 16 * step - margin > static_cast<double>(image.height))
    return;
  double pen = detail::clamped_coordinate(x);
  std::vector<detail::StrokeShape> shapes;
  for (std::size_t i = 0, bytes = 0; i < text.size(); i += bytes) {
    const char* glyph = detail::glyph_at(text, i, bytes);
    const int left = detail::glyph_coordinate(glyph[0]);
    const int right = detail::glyph_coordinate(glyph[1]);
    const double origin = pen - left * step;
    pen = origin + right * step;
    if (origin + left * step - margin > static_cast<double>(image.width)) break;
    if (pen + margin < 0) continue;
    bool have_point = false, first_segment = true;
    double px = 0, py = 0;
    for (const char* p = glyph + 2; *p;) {
      if (*p == ' ') {
        have_point = false;
        first_segment = true;
        ++p;
        continue;
      }
      const double qx = origin + detail::glyph_coordinate(p[0]) * step;
      const double qy = middle + detail::glyph_coordinate(p[1]) * step;
      p += 2;
      if (have_point) {
        detail::add_line(shapes, px, py, qx, qy, thickness, first_segment, true);
        first_segment = false;
      }
      px = qx;
      py = qy;
      have_point = true;
    }
  }
  detail::fill_shapes(image, shapes, color);
}

}  // namespace eigenformer
