# Reads config.toml and prints it with config_path set, byte for byte what `regtrust apply`
# writes; or prints `regtrust-refuse: <why>` and exits 3 for any shape it does not recognise.
# It recognises a strict subset of TOML (what containerd and the projects that ship its config
# write): comments, [table] headers, key = value with strings, numbers, booleans, arrays (also
# over several lines) and one-line inline tables. Everything else is refused, never guessed.
# Input: the file; environment WANT (config_path), NEWVER (the config version containerd writes),
# CV (the containerd version), PLUGIN_V2 and PLUGIN_V3 (the plugin holding the registry table in
# version 2 and in version 3/4 files), AUTHSFILE (the credentials blocks to append, or empty).
# Run with LC_ALL=C. Portable awk (mawk, gawk, busybox).
# Credentials: the blocks an earlier run appended (each after a MARK line) come off the end of
# the file first; then the blocks of AUTHSFILE go at the end, the plugin placeholder in their
# headers replaced by the plugin of the registry table.
function refuse(m) {
  if (ERR == "") ERR = m " (line " LI ")"
  return 0
}
function nextline() {
  if (LI >= N) return 0
  LI++
  S = L[LI]
  P = 1
  if (index(S, "\r")) return refuse("CRLF line endings")
  if (S ~ /[\001-\010\012-\037\177]/) return refuse("a control character")
  if (S ~ /[\200-\377]/) {
    t = S
    gsub(/[\302-\337][\200-\277]|\340[\240-\277][\200-\277]|[\341-\354\356\357][\200-\277][\200-\277]|\355[\200-\237][\200-\277]|\360[\220-\277][\200-\277][\200-\277]|[\361-\363][\200-\277][\200-\277][\200-\277]|\364[\200-\217][\200-\277][\200-\277]/, "", t)
    if (t ~ /[\200-\377]/) return refuse("text that is not UTF-8")
  }
  return 1
}
function skipws() {
  while (substr(S, P, 1) == " " || substr(S, P, 1) == "\t") P++
}
# Skips blanks, comments and line ends inside an array; 0 at the end of the file.
function skipall() {
  while (1) {
    skipws()
    c = substr(S, P, 1)
    if (c != "" && c != "#") return 1
    if (!nextline()) return 0
  }
}
# A (dotted) key: segments joined by SEP into the returned path; KN segments, KQ quoted,
# KRAW[i] the raw text of segment i. inhdr: inside [ ] (no blanks allowed).
function parse_key(inhdr,   path, seg, e, n, raw) {
  path = ""
  n = 0
  KQ = 0
  while (1) {
    if (!inhdr) skipws()
    c = substr(S, P, 1)
    if (c == "\"") {
      e = index(substr(S, P + 1), "\"")
      if (e == 0) return refuse("an unterminated quoted key")
      seg = substr(S, P + 1, e - 1)
      if (index(seg, "\\")) return refuse("a quoted key with escapes")
      raw = substr(S, P, e + 1)
      P = P + e + 1
      KQ = 1
    } else if (c == SQ) {
      e = index(substr(S, P + 1), SQ)
      if (e == 0) return refuse("an unterminated quoted key")
      seg = substr(S, P + 1, e - 1)
      raw = substr(S, P, e + 1)
      P = P + e + 1
      KQ = 1
    } else if (match(substr(S, P), /^[A-Za-z0-9_-]+/)) {
      seg = substr(S, P, RLENGTH)
      raw = seg
      P = P + RLENGTH
    } else {
      return refuse("a key that is neither bare nor quoted")
    }
    if (seg == "") return refuse("an empty key")
    n++
    KRAW[n] = raw
    path = (n == 1) ? seg : path SEP seg
    if (!inhdr) skipws()
    if (substr(S, P, 1) != ".") break
    P++
  }
  KN = n
  return path
}
function parse_basic(   i, d, out) {
  i = P + 1
  out = ""
  STRESC = 0
  STRLIT = 0
  while (1) {
    d = substr(S, i, 1)
    if (d == "") return refuse("an unterminated string")
    if (d == "\"") break
    if (d == "\\") {
      d = substr(S, i + 1, 1)
      if (d != "" && index("btnfr\"\\", d)) {
        STRESC = 1
        i += 2
        continue
      }
      return refuse("a string escape other than \\b \\t \\n \\f \\r \\\" \\\\")
    }
    out = out d
    i++
  }
  STRVAL = out
  P = i + 1
  VK = "str"
  return 1
}
# A TOML number whose value surely fits (i64, or a float with a small exponent): larger ones
# are refused rather than judged.
function is_number(t,   d, m, e) {
  d = t
  gsub(/_/, "", d)
  if (t ~ /^[+-]?(0|[1-9](_?[0-9])*)$/) return (length(d) - (d ~ /^[+-]/)) <= 18
  if (t ~ /^[+-]?(0|[1-9](_?[0-9])*)(\.[0-9](_?[0-9])*)?([eE][+-]?[0-9](_?[0-9])*)?$/) {
    m = d
    e = ""
    if (match(m, /[eE]/)) {
      e = substr(m, RSTART + 1)
      m = substr(m, 1, RSTART - 1)
    }
    gsub(/[^0-9]/, "", m)
    gsub(/[^0-9]/, "", e)
    return length(m) <= 17 && length(e) <= 2
  }
  if (t ~ /^0x[0-9A-Fa-f](_?[0-9A-Fa-f])*$/) return length(d) - 2 <= 15
  if (t ~ /^0o[0-7](_?[0-7])*$/) return length(d) - 2 <= 20
  if (t ~ /^0b[01](_?[01])*$/) return length(d) - 2 <= 62
  if (t ~ /^[+-]?(inf|nan)$/) return 1
  return 0
}
function parse_value(path,   e, t3, tok) {
  c = substr(S, P, 1)
  t3 = substr(S, P, 3)
  if (t3 == "\"\"\"" || t3 == SQ SQ SQ) return refuse("a multi-line (triple-quoted) string")
  if (c == "\"") return parse_basic()
  if (c == SQ) {
    e = index(substr(S, P + 1), SQ)
    if (e == 0) return refuse("an unterminated string")
    STRVAL = substr(S, P + 1, e - 1)
    STRESC = 0
    STRLIT = 1
    P = P + e + 1
    VK = "str"
    return 1
  }
  if (c == "[") return parse_array(path)
  if (c == "{") return parse_inline()
  if (match(substr(S, P), /^[-+A-Za-z0-9_.:]+/)) {
    tok = substr(S, P, RLENGTH)
    P = P + RLENGTH
    VTOK = tok
    if (tok == "true" || tok == "false") {
      VK = "bool"
      return 1
    }
    if (is_number(tok)) {
      VK = "num"
      return 1
    }
    return refuse("the value " tok " (dates and other values are not read here)")
  }
  return refuse("a value that is not a string, number, boolean, array or inline table")
}
function parse_array(path,   n) {
  P++
  n = 0
  while (1) {
    if (!skipall()) return refuse("an unterminated array")
    if (substr(S, P, 1) == "]") break
    if (!parse_value(path)) return 0
    n++
    if (!skipall()) return refuse("an unterminated array")
    c = substr(S, P, 1)
    if (c == ",") {
      P++
      continue
    }
    if (c == "]") break
    return refuse("a malformed array")
  }
  P++
  VK = "arr"
  AEMPTY = (n == 0)
  return 1
}
# One-line inline table; its keys are checked for duplicates under a fresh prefix.
function parse_inline(   base, k, n) {
  base = "\035" (++INL)
  P++
  skipws()
  VEMPTY = 0
  if (substr(S, P, 1) == "}") {
    P++
    VK = "tbl"
    VEMPTY = 1
    return 1
  }
  n = 0
  while (1) {
    k = parse_key(0)
    if (ERR != "") return 0
    if (define_kv(base, k) == "") return 0
    skipws()
    if (substr(S, P, 1) != "=") return refuse("a malformed inline table")
    P++
    skipws()
    if (!parse_value(base SEP k)) return 0
    n++
    skipws()
    c = substr(S, P, 1)
    if (c == ",") {
      P++
      continue
    }
    if (c == "}") break
    return refuse("a malformed inline table")
  }
  P++
  VK = "tbl"
  VEMPTY = 0
  return 1
}
# kind[path]: H header table, I implicit table (prefix of a header), D dotted-key table, V value.
function define_kv(t, k,   segs, n, i, p) {
  n = split(k, segs, SEP)
  p = t
  for (i = 1; i < n; i++) {
    p = (p == "") ? segs[i] : p SEP segs[i]
    if (p in kind) {
      if (kind[p] != "D" || owner[p] != t) return refuse("a dotted key that reaches into a table defined elsewhere")
    } else {
      kind[p] = "D"
      owner[p] = t
    }
  }
  p = (p == "") ? segs[n] : p SEP segs[n]
  if (p in kind) return refuse("a key defined twice")
  kind[p] = "V"
  return p
}
function define_header(h,   segs, n, i, p) {
  n = split(h, segs, SEP)
  p = ""
  for (i = 1; i <= n; i++) {
    p = (i == 1) ? segs[1] : p SEP segs[i]
    if (!(p in RAWSEG)) RAWSEG[p] = KRAW[i]
    if (i == n) break
    if (p in kind) {
      if (kind[p] != "H" && kind[p] != "I") return refuse("a table header inside a value or a dotted-key table")
    } else {
      kind[p] = "I"
    }
  }
  if (h in kind && kind[h] != "I") return refuse("a table defined twice")
  kind[h] = "H"
  return 1
}
function under(p, q) { return index(p, q SEP) == 1 }
# Registry settings that `regtrust apply` migrates or removes: the script does not.
function legacy(p,   rest, segs, n) {
  if (under(p, REG SEP "mirrors")) return refuse("registry.mirrors, which cannot coexist with config_path (the CRI plugin would not load); regtrust apply moves them into hosts.toml")
  if (under(p, REG SEP "configs")) {
    rest = substr(p, length(REG SEP "configs" SEP) + 1)
    n = split(rest, segs, SEP)
    if (n >= 2 && (segs[2] == "tls" || segs[2] == "http")) return refuse("registry.configs.*.tls (or .http), which apply moves into hosts.toml")
    if (n >= 2 && segs[2] == "auth" && (segs[1] in AUTHHOST)) return refuse("registry.configs.*.auth of its own for a host the spec gives credentials to, which apply replaces")
  }
  return 1
}
function parse_header(   h) {
  if (FILEVER == "") return refuse("no version key before the first table (a version 1 file)")
  P++
  h = parse_key(1)
  if (ERR != "") return 0
  if (substr(S, P, 1) != "]") return refuse("a table header with blanks or other text inside its brackets")
  P++
  skipws()
  c = substr(S, P, 1)
  if (c != "" && c != "#") return refuse("text after a table header")
  if (!define_header(h)) return 0
  T = h
  if (h == REG) {
    REGH = LI
    REGLAST = LI
  }
  if (under(h, REG) && !legacy(h)) return 0
  # registry.configs."<host>" tables: apply removes one that holds nothing, so note which do.
  if (under(h, REG SEP "configs")) {
    if (split(substr(h, length(REG SEP "configs" SEP) + 1), segs3, SEP) == 1) CFGH[segs3[1]] = 1
    else CFGK[segs3[1]] = 1
  }
  return 1
}
# [[name]]: an array of tables. Each element gets its own key space; sub-tables of an element
# ([name.sub]) and arrays of tables in or above the registry table are refused.
function parse_array_header(   h, segs, n, i, p) {
  if (FILEVER == "") return refuse("no version key before the first table (a version 1 file)")
  P += 2
  h = parse_key(1)
  if (ERR != "") return 0
  if (substr(S, P, 2) != "]]") return refuse("a table header with blanks or other text inside its brackets")
  P += 2
  skipws()
  c = substr(S, P, 1)
  if (c != "" && c != "#") return refuse("text after a table header")
  if (index(REG SEP, h SEP) == 1 || under(h, REG)) return refuse("an array of tables in or above the registry table")
  n = split(h, segs, SEP)
  p = ""
  for (i = 1; i < n; i++) {
    p = (i == 1) ? segs[1] : p SEP segs[i]
    if (!(p in RAWSEG)) RAWSEG[p] = KRAW[i]
    if (p in kind) {
      if (kind[p] != "H" && kind[p] != "I") return refuse("an array of tables inside a value or another array")
    } else {
      kind[p] = "I"
    }
  }
  if ((h in kind) && kind[h] != "A") return refuse("an array of tables that is also a table or a value")
  kind[h] = "A"
  T = h SEP "\036" (++AOT)
  return 1
}
function parse_kv(   k, p, line0, vs, lead) {
  lead = substr(S, 1, P - 1)
  k = parse_key(0)
  if (ERR != "") return 0
  if (T == "" && (k == "plugins" || under(k, "plugins"))) return refuse("plugins set with a dotted key or an inline table at the top level")
  skipws()
  if (substr(S, P, 1) != "=") return refuse("a line that is not a table header, a key = value or a comment")
  P++
  skipws()
  p = define_kv(T, k)
  if (p == "") return 0
  line0 = LI
  vs = P
  if (!parse_value(p)) return 0
  # Drop-ins can set config_path too (2.x: theirs wins; 1.x: they replace the CRI table): apply
  # reads and edits them, this script does not.
  if (T == "" && k == "imports" && !(VK == "arr" && AEMPTY)) return refuse("imports of drop-in files, which apply reads (they can set config_path too)")
  if (T == "" && k == "version") {
    if (KQ || VK != "num" || VTOK !~ /^[0-9]+$/) return refuse("a version key that is not a plain number")
    FILEVER = VTOK + 0
    if (FILEVER == 2) PLUGIN = ENVIRON["PLUGIN_V2"]
    else if (FILEVER == 3 || FILEVER == 4) PLUGIN = ENVIRON["PLUGIN_V3"]
    else return refuse("version = " VTOK ": this script edits versions 2, 3 and 4")
    if (FILEVER > NEWVER) return refuse("version = " FILEVER ", which containerd " CV " cannot read")
    REG = "plugins" SEP PLUGIN SEP "registry"
  }
  if (REG == "") return 1
  if (index(REG SEP, p SEP) == 1) return refuse("the registry table (or a table above it) written as a value or an inline table")
  if (under(p, REG)) {
    if (T != REG && !under(T, REG)) return refuse("the registry table set with dotted keys")
    if (!legacy(p)) return 0
    if ((p == REG SEP "mirrors" || p == REG SEP "configs") && !(VK == "tbl" && VEMPTY)) return refuse("registry." substr(p, length(REG SEP) + 1) " written as a value or an inline table")
    if (under(p, REG SEP "configs") && split(substr(p, length(REG SEP "configs" SEP) + 1), segs2, SEP) == 1) return refuse("registry.configs entries written as inline tables")
  }
  if (under(T, REG SEP "configs") && split(substr(T, length(REG SEP "configs" SEP) + 1), segs3, SEP) >= 1)
    CFGK[segs3[1]] = 1
  if (T == REG) {
    if (KN > 1) return refuse("dotted keys in the registry table")
    if (k == "config_path") {
      if (KQ) return refuse("a quoted config_path key")
      if (VK != "str" || STRESC) return refuse("a config_path that is not a plain one-line string")
      CPLINE = line0
      CPVS = vs
      CPVE = P
      CPVAL = STRVAL
      CPLIT = STRLIT
    }
    # The first key holding a string sets the style of an inserted config_path.
    if (VK == "str" && !REGSTYLE) {
      REGSTYLE = 1
      REGIND = lead
      REGLIT = STRLIT
    }
    REGLAST = LI
  }
  return 1
}
# Takes the credentials blocks an earlier run appended off the end (N shrinks); refuses when
# anything else follows the first of them.
function strip_ours(   i, j) {
  for (i = 1; i <= N; i++) if (index(L[i], MARK) == 1) break
  if (i > N) return 1
  if (i < 2 || L[i - 1] != "") {
    LI = i
    return refuse("text around the credentials tables regtrust appended")
  }
  j = i - 1
  while (j <= N) {
    LI = j
    if (L[j] != "" || index(L[j + 1], MARK) != 1 || L[j + 2] !~ /^\[plugins\..*\.auth\]$/) return refuse("text after the credentials tables regtrust appended")
    j += 3
    if (index(L[j], "  username = \"") == 1) j++
    if (L[j] !~ /^  (password|identitytoken) = ".*"$/) return refuse("text after the credentials tables regtrust appended")
    j++
  }
  N = i - 2
  LI = 0
  return 1
}
BEGIN {
  SQ = "\047"
  SEP = "\034"
  MARK = "# regtrust: credentials for "
  AN = 0
  if (ENVIRON["AUTHSFILE"] != "") {
    while ((getline line < ENVIRON["AUTHSFILE"]) > 0) {
      A[++AN] = line
      if (index(line, MARK) == 1) AUTHHOST[substr(line, length(MARK) + 1)] = 1
    }
    close(ENVIRON["AUTHSFILE"])
  }
  WANT = ENVIRON["WANT"]
  NEWVER = ENVIRON["NEWVER"] + 0
  CV = ENVIRON["CV"]
  ERR = ""
  T = ""
  REG = ""
  FILEVER = ""
}
{ L[++N] = $0 }
END {
  if (N >= 1 && substr(L[1], 1, 3) == "\357\273\277") refuse("a UTF-8 byte order mark")
  strip_ours()
  while (ERR == "" && nextline()) {
    skipws()
    c = substr(S, P, 1)
    if (c == "" || c == "#") continue
    if (substr(S, P, 2) == "[[") {
      if (!parse_array_header()) break
      LAST = LI
      continue
    }
    if (c == "[") {
      if (!parse_header()) break
      LAST = LI
      continue
    }
    if (!parse_kv()) break
    skipws()
    c = substr(S, P, 1)
    if (c != "" && c != "#") refuse("text after a value")
    LAST = LI
  }
  if (ERR == "" && FILEVER == "") ERR = "no version key (a version 1 file, or comments only)"
  if (ERR == "" && ((REG) in kind) && kind[REG] == "I") ERR = "the registry table exists only through its sub-tables"
  if (ERR == "" && (("plugins" in kind && kind["plugins"] == "D") || ((("plugins" SEP PLUGIN) in kind) && kind["plugins" SEP PLUGIN] == "D"))) ERR = "the plugin table defined with dotted keys"
  if (ERR == "") {
    for (x in CFGH) if (!(x in CFGK)) ERR = "an empty registry.configs entry, which apply removes"
  }
  # A registry table under the plugin name of the other layout: in a version 3/4 file containerd never
  # reads it (apply removes or refuses it); in a version 2 file on containerd 2.x it may be the
  # table that takes effect (apply writes there). Either way, apply decides.
  if (ERR == "" && (FILEVER >= 3 || NEWVER >= 3)) {
    OREG = "plugins" SEP ((FILEVER == 2) ? ENVIRON["PLUGIN_V3"] : ENVIRON["PLUGIN_V2"]) SEP "registry"
    for (x in kind) if (x == OREG || under(x, OREG)) ERR = "a registry table under the plugin name of the other config version"
  }
  if (ERR != "") {
    print "regtrust-refuse: " ERR
    exit 3
  }
  # In the style of the file (as apply writes it): a replaced value keeps its quotes; an inserted
  # key takes the indentation and quotes of the first string-valued key of its table.
  q = "\""
  if (((CPLINE && CPLIT) || (!CPLINE && REGSTYLE && REGLIT)) && index(WANT, SQ) == 0) q = SQ
  line = (REGSTYLE ? REGIND : "  ") "config_path = " q WANT q
  # The value it had, for the caller to carry the hosts configured there (OLDOUT: a file name).
  if (CPLINE && CPVAL != WANT && ENVIRON["OLDOUT"] != "") {
    printf "%s\n", CPVAL > ENVIRON["OLDOUT"]
    close(ENVIRON["OLDOUT"])
  }
  if (CPLINE) {
    if (CPVAL != WANT) L[CPLINE] = substr(L[CPLINE], 1, CPVS - 1) q WANT q substr(L[CPLINE], CPVE)
  } else if (REGH) {
    L[REGLAST] = L[REGLAST] "\n" line
  } else {
    # A new table goes after the last table or key (comments and blank lines at the end of the
    # file stay at the end).
    h1 = ("plugins" in RAWSEG) ? RAWSEG["plugins"] : "plugins"
    h2 = (("plugins" SEP PLUGIN) in RAWSEG) ? RAWSEG["plugins" SEP PLUGIN] : "\"" PLUGIN "\""
    L[LAST] = L[LAST] "\n\n[" h1 "." h2 ".registry]\n" line
  }
  for (i = 1; i <= N; i++) print L[i]
  for (i = 1; i <= AN; i++) {
    line = A[i]
    if (index(line, "[plugins.") == 1) sub(/@PLUGIN@/, PLUGIN, line)
    print line
  }
}
