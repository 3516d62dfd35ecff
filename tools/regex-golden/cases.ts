/**
 * Writes tools/regex-golden/corpus.json: pattern, input and replacement triples whose expected
 * results come from Go itself (main.go). Each case is run through every operation (MatchString,
 * FindString, FindAllString, FindStringSubmatch, ReplaceAllString, ReplaceAllLiteralString,
 * Split, QuoteMeta of the input), so one case checks a pattern everywhere.
 *   npx tsx tools/regex-golden/cases.ts && (cd tools/regex-golden && go run . corpus.json ../../test/fixtures/regex/golden.json)
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";

interface Case {
  name: string;
  pattern: string;
  input: string;
  replacement: string;
}

const cases: Case[] = [];
const add = (name: string, pattern: string, input: string, replacement = "<$0>"): void => {
  cases.push({ name: `${String(cases.length).padStart(3, "0")}-${name}`, pattern, input, replacement });
};
const r = String.raw;

// named groups and $ expansion (ESO's rewrite.regexp target, Sprig's regexReplaceAll)
add("named P-syntax", r`(?P<first>\w+) (?P<last>\w+)`, "John Smith", "${last}, ${first}");
add("named bare", r`(?P<first>\w+) (?P<last>\w+)`, "John Smith", "$last, $first");
add("named then underscore is one name", r`(?P<first>\w+) (?P<last>\w+)`, "John Smith", "$first_x");
add("braced then underscore", r`(?P<first>\w+) (?P<last>\w+)`, "John Smith", "${first}_x");
add("Go 1.22 angle syntax", r`(?<n>a+)b`, "xaab", "[$n]");
add("number then underscore is a name", r`(\w+)@(\w+)\.com`, "a@b.com c@d.com", "$2_$1");
add("braced numbers", r`(\w+)@(\w+)\.com`, "a@b.com c@d.com", "${2}_${1}");
add("number then letter is a name", r`(a)(b)`, "ab", "$1x|${1}x");
add("absent group number", r`(a)`, "a", "[$10][$2][$1]");
add("leading zero is a name", r`(a)`, "a", "[$01][$0][$00]");
add("dollar dollar", r`(a)`, "a", "$$1 $$$1 $$");
add("lone dollar at end", r`a`, "xa", "y$");
add("unterminated brace", r`(a)`, "a", "${1 ${ ${}");
add("dollar punctuation", r`(a)`, "a", "$! $- $.");
add("JS-only forms are text in Go", r`(?P<n>a)`, "xay", "$& $` $' $<n>");
add("unicode letter continues a name", r`(?P<n>a)`, "a", "$nñ|${n}ñ");
add("unicode digit continues a name", "(a)", "a", "$1\u0663|${1}\u0663");
add("huge group number", r`(a)`, "a", "$123456789012|$999999999|$100000000");
add("unknown name", r`(?P<n>a)`, "a", "[$m][${m}]");
add("unmatched named group", r`(?P<x>a)|(?P<y>b)`, "b", "[$x][$y]");
add("unmatched numbered group", r`(a)|b`, "b", "[$1]");
add("backslash is literal", r`(a)`, "a", r`\1\$1`);
add("rewrite prefix", r`^db/(?P<rest>.*)$`, "db/user", "DB_${rest}");
add("rewrite path segment", r`.*/(found-[0-9])`, "path/to/found-1", "$1");
add("rewrite to empty key", r`^secret-.*$`, "secret-a", "");
add("rewrite capital", r`^([a-z])`, "password", "${1}X");

// syntax
add("case insensitive", r`(?i)hello`, "say HeLLo", "-");
add("case fold kelvin", r`(?i)k`, "\u212a", "-");
add("case fold long s", r`(?i)s`, "\u017f", "-");
add("case fold sharp s", r`(?i)ß`, "\u1e9e", "-");
add("scoped flag", r`(?i:a)b`, "AB Ab", "-");
add("flag off again", r`(?i)a(?-i)b`, "AB Ab", "-");
add("dot no newline", r`a.b`, "a\nb", "-");
add("dot all", r`(?s)a.b`, "a\nb", "-");
add("negated class takes newline", r`a[^x]b`, "a\nb", "-");
add("multiline anchors", r`(?m)^\w$`, "a\nb\ncc", "-");
add("dollar is end of text", r`a$`, "a\n", "-");
add("ungreedy flag", r`(?U)a+`, "aaa", "-");
add("lazy", r`a+?`, "aaa", "-");
add("lazy swapped by U", r`(?U)a+?`, "aaa", "-");
add("leftmost first", r`a|ab`, "ab", "-");
add("unicode class L", r`\pL+`, "héllo wörld 123", "-");
add("unicode class Greek", r`\p{Greek}+`, "abc αβγ", "-");
add("negated unicode class", r`\PL+`, "ab12cd", "-");
add("posix alpha is ASCII", r`[[:alpha:]]+`, "héllo", "-");
add("posix negated", r`[[:^digit:]]+`, "ab12cd", "-");
add("posix word", r`[[:word:]]+`, "a_b-c", "-");
add("perl w is ASCII", r`\w+`, "héllo", "-");
add("perl d is ASCII", r`\d+`, "\u0663\u0664 42", "-");
add("perl s excludes vtab", r`\s`, "\u000b\u00a0", "-");
add("perl s", r`\s+`, "a \t\n\f\rb", "_");
add("quoted literal", r`\Qa.b*c\E+`, "xa.b*cccy", "-");
add("quoted unterminated", r`\Qa.b`, "a.b", "-");
add("absolute anchors", r`\Aab\z`, "ab", "-");
add("word boundary", r`\b`, "hello world", "|");
add("not word boundary", r`\B`, "abc", "|");
add("octal escape", r`\141\12`, "a\n", "-");
add("hex escapes", r`\x41\x{1F642}`, "A\u{1F642}", "-");
add("braces literal when not a repeat", r`a{,3}`, "a{,3}", "-");
add("repeat zero", r`(a){0}b`, "ab", "[$1]");
add("counted repeat", r`a{2,3}`, "aaaaaaa", "-");
add("lazy counted", r`a{2,}?`, "aaaaa", "-");
add("big repeat allowed", r`a{1000}`, "a".repeat(1000), "-");
add("comment group is not Go", r`a(?#x)b`, "ab", "-");
add("empty group", r`()`, "ab", "[$1]");
add("alternation with empty", r`|a`, "aa", "-");
add("alternation empty last", r`a|`, "aa", "-");

// empty matches in All, Replace and Split
add("star replace", r`a*`, "baaac", "x");
add("star on empty", r`x*`, "", "-");
add("empty pattern", "", "abc", "-");
add("empty pattern empty input", "", "", "-");
add("split char", r`a`, "banana", "-");
add("split empty input", r`,`, "", "-");
add("split commas", r`,`, "a,b,,c,", "-");
add("split star", r`x*`, "axbxxc", "-");
add("split spaces", r` +`, "  hello   world  ", "-");
add("split leading match", r`^a`, "abc", "-");
add("split whole", r`abc`, "abc", "-");
add("lookalike empty after match", r`a|`, "baab", "-");
add("optional", r`b?`, "abba", "<$0>");

// UTF-8
add("dot on multibyte", r`.`, "日本語", "-");
add("dot on astral", r`.`, "a\u{1F642}b", "-");
add("empty matches between astral", r`x*`, "\u{1F642}\u{1F642}", "-");
add("split runes", "", "h\u00e9llo\u{1F642}x", "-");
add("negated class astral", r`[^a]`, "\u{1F642}", "-");
add("astral range", r`[\x{1F600}-\x{1F64F}]+`, "hi \u{1F642}\u{1F600}!", "-");
add("case insensitive greek", r`(?i)σ+`, "ΣσςΣ", "-");

// submatches
add("alternative groups", r`(a)|(b)`, "b", "[$1|$2]");
add("nested groups", r`((a)(b)?)+`, "aab", "[$1|$2|$3]");
add("submatch named", r`(?P<k>\w+)=(?P<v>\w*)`, "user=admin;pw=", "${v}:${k}");
// Go accepts a name twice (C++ RE2 and RE2/J do not); $name is the first such group that matched
add("duplicate names", r`(?P<a>x)|(?P<a>y)`, "xy", "[$a]");
add("duplicate names second", r`(?P<a>x)?(?P<a>y)`, "y", "[$a]");
add("duplicate names in class and quote", r`[(?P<a>]\Q(?P<a>\E(?P<a>z)(?P<a>w)`, "a(?P<a>zw", "[$a]");
add("named group digits only", r`(?P<1>x)(y)`, "xy", "[$1]");

// Reloader-style anchored names and namespace regexes
add("namespace regex", r`^team-.*$`, "team-x", "-");
add("namespace regex miss", r`^team-.*$`, "prod", "-");
add("unanchored contains", r`team`, "my-team-ns", "-");

// catastrophic for backtracking engines, linear in Go
add("nested plus", r`^(a+)+$`, "a".repeat(40) + "b", "-");
add("nested plus match", r`^(a+)+$`, "a".repeat(40), "-");
add("x+x+", r`(x+x+)+y`, "x".repeat(30), "-");
add("alternation overlap", r`^(a|aa)+$`, "a".repeat(35) + "b", "-");
add("dot star stack", r`(.*a){12}`, "a".repeat(30), "-");

// invalid in Go (RE2 rejects what needs backtracking)
for (const [name, p] of [
  ["backreference", r`(a)\1`],
  ["lone backreference", r`\1`],
  ["lookahead", r`a(?=b)`],
  ["negative lookahead", r`a(?!b)`],
  ["lookbehind", r`(?<=a)b`],
  ["negative lookbehind", r`(?<!a)b`],
  ["repeat too big", r`a{1001}`],
  ["nested repeat too big", r`(a{100}){100}`],
  ["nested repetition", r`a**`],
  ["possessive", r`a++`],
  ["reversed range", r`[z-a]`],
  ["missing paren", r`(a`],
  ["extra paren", r`a)`],
  ["unknown posix class", r`[[:foo:]]`],
  ["unknown unicode class", r`\p{Foo}`],
  ["empty name", r`(?P<>x)`],
  ["non-ASCII name", r`(?P<ñ>x)`],
  ["unterminated flags", r`(?i`],
  ["unknown flag", r`(?z)a`],
  ["byte escape", r`\C`],
  ["Z escape", r`\Z`],
  ["JS unicode escape", r`\u0041`],
  ["escape e", r`\e`],
  ["bad repeat range", r`a{2,1}`],
  ["missing bracket", r`[a`],
  ["trailing backslash", "a\\"],
  ["rune too big", r`\x{110000}`],
  ["leading star", r`*a`],
] as const)
  add(`invalid ${name}`, p, "ab", "-");
add("name starting with digit", r`(?P<1a>x)`, "x", "[$1a]");

const out = join(import.meta.dirname, "corpus.json");
writeFileSync(out, JSON.stringify(cases, null, 2) + "\n");
console.log(`${cases.length} cases -> ${out}`);
