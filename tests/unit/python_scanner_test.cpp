#include "python_scanner.h"

#include "catch.h"

using minicpm::PythonSource;
using minicpm::scan_python;

namespace {

PythonSource scan(const std::string& text) {
  static std::string keep;  // The source views the text, so keep it alive for the test.
  keep = text;
  auto result = scan_python(keep, "t.py");
  if (!result) FAIL(result.error().message);
  return std::move(*result);
}

std::string scan_error(const std::string& text) {
  auto result = scan_python(text, "t.py");
  REQUIRE_FALSE(result.ok());
  return result.error().message;
}

}  // namespace

TEST_CASE("scanner splits logical lines") {
  PythonSource source = scan("a = 1\n\n# comment\nb = (1,\n     2)\nc = 3 \\\n    + 4\n");
  REQUIRE(source.statements.size() == 3);
  CHECK(source.statements[1].first_line == 3);
  CHECK(source.statements[1].last_line == 4);
  CHECK(source.statements[2].first_line == 5);
  CHECK(source.statements[2].last_line == 6);
  REQUIRE(source.comments.size() == 1);
  CHECK(source.comments[0].line == 2);
}

TEST_CASE("scanner skips brackets and hashes in strings") {
  PythonSource source = scan("x = \"(#\" + '[' + r'\\'' + b\"]\"\ny = 2\n");
  REQUIRE(source.statements.size() == 2);
  CHECK(source.comments.empty());
}

TEST_CASE("scanner handles triple-quoted strings over lines") {
  PythonSource source = scan("s = '''one\n)( # not a comment\n'''\nt = f\"\"\"a\"b\"\"\"\n");
  REQUIRE(source.statements.size() == 2);
  CHECK(source.statements[0].last_line == 2);
  CHECK(source.statements[1].first_line == 3);
  CHECK(source.comments.empty());
}

TEST_CASE("scanner ignores brackets in comments inside a call") {
  PythonSource source = scan("f(a,  # ) closes nothing\n  b)\ng()\n");
  REQUIRE(source.statements.size() == 2);
  CHECK(source.statements[0].last_line == 1);
}

TEST_CASE("scanner reads CRLF line endings") {
  PythonSource source = scan("def f():\r\n    return (1,\r\n        2)\r\n");
  REQUIRE(source.statements.size() == 2);
  CHECK(source.statements[1].indent == "    ");
  CHECK(source.statements[1].last_line == 2);
  CHECK(minicpm::line_ending_of(source, 0) == "\r\n");
}

TEST_CASE("scanner measures tab indentation") {
  PythonSource source = scan("class A:\n\tdef f(self):\n\t\treturn 1\n");
  REQUIRE(source.statements.size() == 3);
  CHECK(source.statements[1].indent_width == 8);
  CHECK(source.statements[2].indent_width == 16);
  CHECK(source.extent_end[0] == 3);
  CHECK(source.extent_end[1] == 3);
}

TEST_CASE("scanner computes block extents") {
  PythonSource source = scan("def f():\n    with x:\n        y()\n    z()\nw()\n");
  REQUIRE(source.statements.size() == 5);
  CHECK(source.extent_end[0] == 4);
  CHECK(source.extent_end[1] == 3);
  CHECK(source.extent_end[3] == 4);
}

TEST_CASE("scanner accepts a byte order mark") {
  PythonSource source = scan("\xEF\xBB\xBFx = 1\n");
  REQUIRE(source.statements.size() == 1);
  CHECK(source.statements[0].tokens[0].text == "x");
}

TEST_CASE("scanner reports an unterminated string") {
  CHECK(scan_error("a = 1\nb = 'open\n") == "t.py:2: unterminated string literal, expected a closing '");
  CHECK(scan_error("a = \"\"\"never closed\n\n") ==
        "t.py:1: unterminated string literal, expected a closing \"\"\"");
}

TEST_CASE("scanner reports unbalanced brackets") {
  CHECK(scan_error("a = (1,\n2\n") ==
        "t.py:1: '(' is never closed, expected a matching bracket before the end of the file");
  CHECK(scan_error("a = 1)\n") == "t.py:1: unmatched ')', expected balanced brackets");
}

TEST_CASE("scanner rejects invalid UTF-8 and NUL bytes") {
  CHECK(scan_error("a = 1\nb = '\xff'\n") ==
        "t.py:2: invalid UTF-8 byte sequence, expected UTF-8 Python source");
  CHECK(scan_error(std::string("a = 1\n\0\n", 8)) ==
        "t.py:2: NUL byte in the file, expected UTF-8 Python source");
}

TEST_CASE("normalized code ignores spacing and quote style") {
  CHECK(minicpm::normalize_snippet("kwargs['num_beams']=1") ==
        minicpm::normalize_snippet("kwargs[\"num_beams\"] = 1"));
  CHECK(minicpm::normalize_snippet("if stream :") == "if stream :");
  CHECK(minicpm::normalize_snippet("a = 1\nb = 2") == "");
}
