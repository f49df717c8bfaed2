// Integration test: headless Chromium loads the demo site (examples/site)
// through reactor-httpd. The DOM dump shows the page's script ran, its
// stylesheet applied and its images decoded; the access log shows every
// subresource was answered 200.
#include <doctest/doctest.h>

#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

#include "httpd_fixture.h"
#include "temp_tree.h"

using namespace http_test;

namespace {

std::string demo_site() {
  const char* site = std::getenv("HTTPD_DEMO_SITE");
  REQUIRE_MESSAGE(site != nullptr, "HTTPD_DEMO_SITE is not set (meson sets it)");
  return site;
}

// Runs Debian's chromium headless on `url` and returns the DOM it built.
std::string dump_dom(const std::string& url, const TempTree& scratch) {
  const std::string profile = scratch / "chromium-profile";
  const test_support::CommandResult result = test_support::run_command(
      {"/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
       "--no-first-run", "--disable-background-networking", "--disable-component-update",
       "--disable-sync", "--disable-dev-shm-usage", "--log-level=3", "--user-data-dir=" + profile,
       "--dump-dom", url},
      std::chrono::seconds(90));
  CHECK(result.status == 0);
  return result.out;
}

// Runs chromium headless on `url` in a window `width` x `height` pixels
// and returns the PNG screenshot it wrote.
std::string screenshot(const std::string& url, const TempTree& scratch, int width, int height) {
  const std::string profile = scratch / "chromium-profile";
  const std::string png = scratch / "screenshot.png";
  const test_support::CommandResult result = test_support::run_command(
      {"/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
       "--no-first-run", "--disable-background-networking", "--disable-component-update",
       "--disable-sync", "--disable-dev-shm-usage", "--log-level=3", "--hide-scrollbars",
       "--user-data-dir=" + profile,
       "--window-size=" + std::to_string(width) + "," + std::to_string(height),
       "--screenshot=" + png, url},
      std::chrono::seconds(90));
  CHECK(result.status == 0);
  return read_file(png);
}

// An 8-bit RGB or RGBA PNG (what chromium writes) as grey levels, row by
// row. Just enough of PNG for that: chunks, zlib, the five row filters.
struct GreyImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;
  uint8_t at(int x, int y) const { return pixels[static_cast<size_t>(y) * width + x]; }
};

GreyImage decode_png(const std::string& png) {
  auto be32 = [&png](size_t at) {
    return static_cast<uint32_t>(static_cast<uint8_t>(png[at])) << 24 |
           static_cast<uint32_t>(static_cast<uint8_t>(png[at + 1])) << 16 |
           static_cast<uint32_t>(static_cast<uint8_t>(png[at + 2])) << 8 |
           static_cast<uint32_t>(static_cast<uint8_t>(png[at + 3]));
  };
  if (png.size() < 33 || png.compare(1, 3, "PNG") != 0) throw std::runtime_error("not a PNG");
  GreyImage image;
  image.width = static_cast<int>(be32(16));
  image.height = static_cast<int>(be32(20));
  const int depth = static_cast<uint8_t>(png[24]);
  const int colour = static_cast<uint8_t>(png[25]);
  if (depth != 8 || (colour != 2 && colour != 6)) throw std::runtime_error("unexpected PNG type");
  const size_t channels = colour == 6 ? 4 : 3;
  std::string compressed;
  for (size_t at = 8; at + 8 <= png.size();) {
    const uint32_t length = be32(at);
    if (png.compare(at + 4, 4, "IDAT") == 0) compressed.append(png, at + 8, length);
    at += 12 + length;
  }
  const size_t stride = channels * static_cast<size_t>(image.width);
  std::vector<uint8_t> raw((stride + 1) * static_cast<size_t>(image.height));
  uLongf raw_size = raw.size();
  if (uncompress(raw.data(), &raw_size, reinterpret_cast<const Bytef*>(compressed.data()),
                 compressed.size()) != Z_OK) {
    throw std::runtime_error("bad PNG data");
  }
  std::vector<uint8_t> previous(stride, 0);
  std::vector<uint8_t> row(stride);
  image.pixels.resize(static_cast<size_t>(image.width) * image.height);
  for (int y = 0; y < image.height; ++y) {
    const uint8_t* line = &raw[static_cast<size_t>(y) * (stride + 1)];
    const int filter = line[0];
    for (size_t i = 0; i < stride; ++i) {
      const int a = i >= channels ? row[i - channels] : 0;
      const int b = previous[i];
      const int c = i >= channels ? previous[i - channels] : 0;
      int predicted = 0;
      if (filter == 1) predicted = a;
      if (filter == 2) predicted = b;
      if (filter == 3) predicted = (a + b) / 2;
      if (filter == 4) {
        const int p = a + b - c;
        const int pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
        predicted = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      row[i] = static_cast<uint8_t>(line[1 + i] + predicted);
    }
    for (int x = 0; x < image.width; ++x) {
      const uint8_t* pixel = &row[static_cast<size_t>(x) * channels];
      image.pixels[static_cast<size_t>(y) * image.width + x] =
          static_cast<uint8_t>((pixel[0] * 3 + pixel[1] * 6 + pixel[2]) / 10);
    }
    previous = row;
  }
  return image;
}

// Lines of text crossing the columns [x_begin, x_end): runs of pixel rows
// that hold something dark there, separated by blank rows.
int text_lines_between(const GreyImage& image, int x_begin, int x_end) {
  int lines = 0;
  bool in_line = false;
  for (int y = 0; y < image.height; ++y) {
    bool dark = false;
    for (int x = x_begin; x < x_end && !dark; ++x) dark = image.at(x, y) < 128;
    if (dark && !in_line) ++lines;
    in_line = dark;
  }
  return lines;
}

// path -> status for every request line in a Combined Log Format file.
std::multimap<std::string, int> requests_in_log(const std::string& log) {
  std::multimap<std::string, int> requests;
  static const std::regex kLine(R"re("GET ([^ ]+) HTTP/1\.[01]" (\d{3}) )re");
  for (auto it = std::sregex_iterator(log.begin(), log.end(), kLine); it != std::sregex_iterator();
       ++it) {
    requests.emplace((*it)[1].str(), std::stoi((*it)[2].str()));
  }
  return requests;
}

}  // namespace

TEST_CASE("browser: chromium renders the demo site with every subresource") {
  TempTree scratch;
  const std::string log_path = scratch / "access.log";
  Httpd server(demo_site(), {"--access-log", log_path});

  const std::string dom = dump_dom(server.url("/"), scratch);
  CHECK(dom.find("<title>reactor-httpd demo site</title>") != std::string::npos);
  CHECK(dom.find("data-script=\"ran\"") != std::string::npos);
  CHECK(dom.find("data-css=\"applied\"") != std::string::npos);
  CHECK(dom.find("data-images=\"loaded\"") != std::string::npos);
  CHECK(dom.find("images: 2 of 2 loaded") != std::string::npos);

  CHECK(server.stop() == 0);  // flushes the access log
  const std::multimap<std::string, int> requests = requests_in_log(read_file(log_path));
  for (const char* path :
       {"/", "/css/style.css", "/js/app.js", "/images/logo.svg", "/images/gradient.png"}) {
    CAPTURE(path);
    const auto [begin, end] = requests.equal_range(path);
    REQUIRE(begin != end);
    for (auto it = begin; it != end; ++it) CHECK(it->second == 200);
  }
  for (const auto& request : requests) {
    CAPTURE(request.first);
    CHECK(request.second < 400);  // nothing the page references is missing
  }
}

TEST_CASE("browser: chromium shows the directory listing with working links") {
  TempTree scratch;
  Httpd server(demo_site());
  const std::string dom = dump_dom(server.url("/files/"), scratch);
  CHECK(dom.find("Index of /files/") != std::string::npos);
  CHECK(dom.find("href=\"caf%C3%A9.txt\"") != std::string::npos);
  CHECK(dom.find("href=\"notes%20with%20spaces.txt\"") != std::string::npos);
  CHECK(dom.find("href=\"subdir/\"") != std::string::npos);
  // And a link from it, followed by the browser, arrives.
  const std::string file = dump_dom(server.url("/files/caf%C3%A9.txt"), scratch);
  CHECK(file.find("Un nom de fichier en UTF-8.") != std::string::npos);
}

TEST_CASE("browser: a 135-character name wraps and leaves the size and date columns on screen") {
  TempTree tree;
  std::string long_name = "long-";
  while (long_name.size() < 135) long_name += "abcdefghij";
  long_name.resize(135);
  tree.write_file("site/" + long_name, std::string(123456, 'x'));
  for (int i = 1; i <= 5; ++i) tree.write_file("site/short" + std::to_string(i) + ".txt", "s");
  Httpd server(tree / "site");
  const GreyImage image = decode_png(screenshot(server.url("/"), tree, 1024, 768));
  REQUIRE(image.width == 1024);
  // The right quarter of the screen, where the size and date columns end
  // up: text there on the header's line and on each of the six rows'.
  // Pushed off the screen, the columns leave at most the long name there.
  CHECK(text_lines_between(image, 740, 1004) >= 7);
  // And the name is shown whole (wrapped, not clipped).
  const std::string html = curl({server.url("/")});
  CHECK(html.find(">" + long_name + "</a>") != std::string::npos);
}
