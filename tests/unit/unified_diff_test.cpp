#include "unified_diff.h"

#include "catch.h"

TEST_CASE("diff of equal texts is empty") { CHECK(minicpm::unified_diff("a\nb\n", "a\nb\n", "f").empty()); }

TEST_CASE("diff shows an insertion with context") {
  std::string before = "1\n2\n3\n4\n5\n6\n7\n8\n";
  std::string after = "1\n2\n3\n4\nnew\n5\n6\n7\n8\n";
  CHECK(minicpm::unified_diff(before, after, "f.py") ==
        "--- a/f.py\n+++ b/f.py\n@@ -2,6 +2,7 @@\n 2\n 3\n 4\n+new\n 5\n 6\n 7\n");
}

TEST_CASE("distant changes make two hunks") {
  std::string before;
  for (int i = 1; i <= 20; ++i) before += std::to_string(i) + "\n";
  std::string after = before;
  after.insert(after.find("3\n"), "A\n");
  after.insert(after.find("18\n"), "B\n");
  std::string diff = minicpm::unified_diff(before, after, "f");
  CHECK(diff ==
        "--- a/f\n+++ b/f\n@@ -1,5 +1,6 @@\n 1\n 2\n+A\n 3\n 4\n 5\n"
        "@@ -15,6 +16,7 @@\n 15\n 16\n 17\n+B\n 18\n 19\n 20\n");
}

TEST_CASE("diff marks a missing final newline") {
  CHECK(minicpm::unified_diff("a\nb", "a\nc", "f") ==
        "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n"
        "\\ No newline at end of file\n");
}
