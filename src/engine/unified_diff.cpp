#include "unified_diff.h"

#include <algorithm>
#include <vector>

namespace minicpm {
namespace {

constexpr long kContext = 3;

// Lines including their endings, so that a change of line ending shows as a change.
std::vector<std::string_view> split_keeping_endings(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t newline = text.find('\n', begin);
    size_t end = newline == std::string_view::npos ? text.size() : newline + 1;
    lines.push_back(text.substr(begin, end - begin));
    begin = end;
  }
  return lines;
}

enum class Edit { keep, remove, insert };

// Myers' O((N+M)D) shortest edit script. The patches make a handful of edits, so D is small.
std::vector<Edit> edit_script(const std::vector<std::string_view>& a,
                              const std::vector<std::string_view>& b) {
  const long n = static_cast<long>(a.size());
  const long m = static_cast<long>(b.size());
  const long max = n + m;
  std::vector<long> v(static_cast<size_t>(2 * max + 2), 0);
  std::vector<std::vector<long>> trace;
  auto at = [&](long k) -> long& { return v[static_cast<size_t>(k + max + 1)]; };

  for (long d = 0; d <= max; ++d) {
    trace.push_back(v);
    for (long k = -d; k <= d; k += 2) {
      long x = (k == -d || (k != d && at(k - 1) < at(k + 1))) ? at(k + 1) : at(k - 1) + 1;
      long y = x - k;
      while (x < n && y < m && a[static_cast<size_t>(x)] == b[static_cast<size_t>(y)]) {
        ++x;
        ++y;
      }
      at(k) = x;
      if (x >= n && y >= m) {
        // Walk the trace backwards to recover the script.
        std::vector<Edit> script;
        long cx = n;
        long cy = m;
        for (long step = d; step > 0; --step) {
          const std::vector<long>& previous = trace[static_cast<size_t>(step)];
          auto prev_at = [&](long kk) { return previous[static_cast<size_t>(kk + max + 1)]; };
          long ck = cx - cy;
          bool down = ck == -step || (ck != step && prev_at(ck - 1) < prev_at(ck + 1));
          long pk = down ? ck + 1 : ck - 1;
          long px = prev_at(pk);
          long py = px - pk;
          while (cx > px + (down ? 0 : 1) && cy > py + (down ? 1 : 0)) {
            script.push_back(Edit::keep);
            --cx;
            --cy;
          }
          script.push_back(down ? Edit::insert : Edit::remove);
          cx = px;
          cy = py;
        }
        while (cx > 0 && cy > 0) {
          script.push_back(Edit::keep);
          --cx;
          --cy;
        }
        std::reverse(script.begin(), script.end());
        return script;
      }
    }
  }
  return {};
}

void append_line(std::string& out, char sign, std::string_view line) {
  out.push_back(sign);
  out.append(line);
  if (line.empty() || line.back() != '\n') out.append("\n\\ No newline at end of file\n");
}

}  // namespace

std::string unified_diff(std::string_view before, std::string_view after, const std::string& name) {
  if (before == after) return "";
  std::vector<std::string_view> a = split_keeping_endings(before);
  std::vector<std::string_view> b = split_keeping_endings(after);
  std::vector<Edit> script = edit_script(a, b);

  // Positions in a and b before each script step.
  std::vector<long> a_at(script.size() + 1, 0);
  std::vector<long> b_at(script.size() + 1, 0);
  for (size_t i = 0; i < script.size(); ++i) {
    a_at[i + 1] = a_at[i] + (script[i] != Edit::insert ? 1 : 0);
    b_at[i + 1] = b_at[i] + (script[i] != Edit::remove ? 1 : 0);
  }

  std::string out = "--- a/" + name + "\n+++ b/" + name + "\n";
  const long steps = static_cast<long>(script.size());
  long i = 0;
  while (i < steps) {
    if (script[static_cast<size_t>(i)] == Edit::keep) {
      ++i;
      continue;
    }
    // A hunk: from kContext lines before the first change to kContext lines after the last
    // change that is no more than 2 * kContext kept lines from the next.
    long begin = std::max(0L, i - kContext);
    long end = i;
    long kept_run = 0;
    for (long j = i; j < steps; ++j) {
      if (script[static_cast<size_t>(j)] == Edit::keep) {
        if (++kept_run > 2 * kContext) break;
      } else {
        kept_run = 0;
        end = j + 1;
      }
    }
    end = std::min(steps, end + kContext);

    long a_count = a_at[static_cast<size_t>(end)] - a_at[static_cast<size_t>(begin)];
    long b_count = b_at[static_cast<size_t>(end)] - b_at[static_cast<size_t>(begin)];
    long a_start = a_at[static_cast<size_t>(begin)] + (a_count > 0 ? 1 : 0);
    long b_start = b_at[static_cast<size_t>(begin)] + (b_count > 0 ? 1 : 0);
    out += "@@ -" + std::to_string(a_start) + "," + std::to_string(a_count) + " +" +
           std::to_string(b_start) + "," + std::to_string(b_count) + " @@\n";
    for (long j = begin; j < end; ++j) {
      size_t s = static_cast<size_t>(j);
      if (script[s] == Edit::keep) append_line(out, ' ', a[static_cast<size_t>(a_at[s])]);
      if (script[s] == Edit::remove) append_line(out, '-', a[static_cast<size_t>(a_at[s])]);
      if (script[s] == Edit::insert) append_line(out, '+', b[static_cast<size_t>(b_at[s])]);
    }
    i = end;
  }
  return out;
}

}  // namespace minicpm
