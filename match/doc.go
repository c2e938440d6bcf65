// Package match selects log lines and extracts values and keys from them
// with CFEngine's semantics: select_line_matching must match the whole line,
// extraction_regex and key are unanchored searches whose first capture group
// is the result. Patterns are PCRE/.NET-flavoured (github.com/dlclark/regexp2
// is the reference semantics), and every regexp2 match has a time limit.
//
// A Set holds the compiled rules of one stream; a Matcher matches lines
// against it, one line at a time (Match, as the daemon follows a file) or a
// block of many complete lines at a time (MatchBlock, as `logtally test`
// reads a whole file). Both give the same hits, and the per-line result is
// always the reference's: a differential fuzz test compares every engine
// below, and the block scan, with plain regexp2.
//
// # Compiling a rule
//
// Each pattern is parsed the way regexp2 parses it (parse.go). A select
// pattern loses its outer `.*` (a whole-line match of `.*X.*` is a search
// for X). Its engines, from the cheapest (engine.go):
//
//   - "literal": literal text, `.*` and outer anchors: bytes.Index;
//   - "bytes": on ASCII lines, the pattern compiled to a program that
//     matches bytes directly (bytes.go): literals, byte classes and runs of
//     them, `.`, anchors, \b, groups, alternations, repetition. A class run
//     followed by something it cannot match (`\d+\]`, `\S+ port`) is
//     taken whole with no backtracking; otherwise backtracking is memoised
//     and its work budgeted. Lines that are not ASCII, or that exceed the
//     budget, go to the next engine in this list that compiles;
//   - "re2": Go's regexp, on a translation exact on every line (classes
//     written out rune by rune as regexp2 sees them), with a smaller one
//     for ASCII lines;
//   - "re2+ascii": Go's regexp on ASCII lines, regexp2 on the others;
//   - "regexp2": lookaround, backreferences and the like, with the time
//     limit.
//
// Extraction and key patterns get the same engines ("bytes", then Go's
// regexp through a zero-allocation backtracker, then regexp2), and the
// group regexp2 numbers first.
//
// Each select pattern also yields literals that every selected line
// contains: lowered in ASCII for the per-line prefilter, and byte for byte
// ("exact") for the block scan.
//
// # Rules that differ by a literal
//
// Rules whose patterns are the same but for one run of literal text (a
// `for:` list, one rule per address) are compiled once, as a template
// (template.go): a lexer finds every pattern's runs of literal characters,
// and rules of the same shape, extraction and key that differ in one run
// share the rest. The trimmed select pattern is A·H·B, H the run: a line
// matches when, at an occurrence of the rule's text for H, A matches what
// precedes it and B what follows; A and B are compiled once for the bytes
// engine, and a rule is its text, its literals for the prefilter (which
// tell the rules apart) and, compiled when the first line needs them, its
// exact engines for lines that are not ASCII and its regexp2 reference.
// That a run may be replaced by other literal text without changing what
// regexp2 accepts is why the lexer takes so little as literal; a fuzz test
// checks it. Rules with the same patterns share one compiled rule. 1000
// rules that differ by an address compile in about a tenth of what they
// took one by one, and keep 2.3 KB each where they kept 6 KB, most of it
// the prefilter's automaton.
//
// # How a line is processed by Match
//
//  1. One Aho–Corasick pass over the line (prefilter.go) finds the
//     literals of all rules at once and tells whether the line is ASCII.
//  2. The candidate rules are those without literals and those whose
//     literals the line has; the others cost nothing more.
//  3. Each candidate's select engine runs; when it selects the line, its
//     extraction and key engines run. On an ASCII line these are the
//     bytes engine, on other lines the exact engines.
//
// A rule is a candidate of a line when its most selective clause holds:
// the one whose literals the fewest other rules need. 1000 rules that
// differ only by an address are told apart by their addresses, so a line
// costs the one pass over it and the rule whose address it has, not 1000
// rules.
//
// # How a block is processed by MatchBlock (block.go)
//
//  1. On its first block, a Matcher picks each rule's anchor: among the
//     rule's exact literals (or alternations of them), the one that costs
//     least to search for, counting the stops at its rarest byte in that
//     block and its share of one search of the block (a clause n rules
//     need costs each 1/n of a search). Rules with the same anchor share
//     it, so 1000 rules that have "Failed password for" in common are
//     searched for once.
//  2. For each anchor, the block is searched with bytes.IndexByte
//     (vectorised) for the anchor's rarest byte, checking a second byte
//     and then the whole literal at each stop (or with bytes.Index when
//     the first byte is about as rare); an occurrence makes its
//     line a candidate for the anchor's rules, and the search resumes at
//     the next line. Lines where no anchor occurs are never looked at.
//  3. The candidate lines of all anchors are taken in line order; each
//     has its '\r' before '\n' dropped and its rules verified as in step 3
//     of Match, and the callback gets the lines that have hits, in order.
//     When an anchor's line is a candidate for more than a few rules
//     (narrowMin) that are bound to templates (1000 rules that differ by
//     an address), each occurrence of the start their texts share is
//     looked up among their texts (dispatch.go), and only the rules
//     whose text is there are verified; for other rules, the prefilter
//     of all rules (built the first time a line needs it) makes one pass
//     over the line and only the rules whose literals it has are
//     verified. Whether a line is ASCII is found out for the lines
//     verified only.
//  4. Rules without an exact literal (case-insensitive ones, say) are
//     checked on every line through the prefilter, merged in line order
//     with the anchored candidates; when there are more distinct anchors
//     than searching the block once per anchor pays for (maxAnchors), the
//     whole block goes line by line through Match.
//
// # The time limit of a line
//
// Options.Timeout is a budget per line, shared by every regexp2 match of
// every rule on it (budget.go): the first starts the line's clock, each
// runs with what remains, and when nothing remains the rules still to run
// on regexp2 report a timeout without running. regexp2's own clock is set
// to tick every few milliseconds, so that a line that times out costs its
// limit plus at most TimeoutSlack, however many rules it has.
//
// # Why an automaton of our own
//
// The prefilter is measured against a maintained Aho–Corasick library,
// github.com/coregx/ahocorasick (a DFA over byte classes), by
// BenchmarkSharedPass over the 1,000,000-line sshd corpus with 10 and 1000
// rules that differ by an address. On the development machine (best of
// runs, 2 busy cores) the whole block scan with 1000 rules — anchor
// search, prefilter on the lines found, verification — ran at 670 MB/s,
// where the library only finding the rules' literals in the same blocks
// ran at 400 MB/s (10 rules: 740 against 270 MB/s); per line, the
// prefilter found the literals of 1000 rules at 470 MB/s, the library at
// 330 MB/s on lines lowered first. The library reports matches as an
// allocated list of positions, has no case-folded search and no
// way to tell a line's ASCII-ness in the same pass, and cannot skip a
// block by its rarest byte; the automaton here is one table load per
// byte, with the states that end literals numbered last so that the
// inner loop tests one comparison, and runs two halves of a line at once.
//
// A bug in a fast engine must not take the daemon down: a panic while
// matching a line makes the reference match that line instead, within
// what remains of the line's limit.
//
// match imports nothing else of logtally's.
package match
