package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// maxFileSize bounds what Load reads; a configuration is a few kilobytes.
const maxFileSize = 4 << 20

// Load reads the configuration file at path and parses it with Parse. If the
// file cannot be read, the error is the one from opening or reading it (an
// *fs.PathError, so errors.Is(err, fs.ErrNotExist) works); every problem
// with its contents is reported in one *Error.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileSize {
		return nil, &Error{Problems: []Problem{{File: path, Msg: fmt.Sprintf("file is larger than %s; is it the right file?", Size(maxFileSize))}}}
	}
	return Parse(data, path)
}

// Parse parses a configuration from data, which holds the contents of the
// file called name (used only in messages), and validates it. Keys missing
// from data keep their defaults, so empty data gives Default(). Unknown keys
// and keys given twice are errors.
//
// On any problem Parse returns a nil Config and an *Error listing every
// problem it found, in file order, each with its line number.
func Parse(data []byte, name string) (*Config, error) {
	c := Default()
	d := &decoder{file: name, lines: map[string]int{}, failed: map[string]bool{}}
	if root := d.document(data); root != nil {
		d.mapping(root, "", reflect.ValueOf(&c).Elem())
	}
	for _, is := range c.check() {
		if is.item < 0 && d.failed[is.key] {
			// The key's value was partly unreadable and reported already;
			// what was read of it may look wrong as a whole.
			continue
		}
		line := d.lineOf(is.key)
		if is.item >= 0 {
			if l, ok := d.lines[itemKey(is.key, is.item)]; ok {
				line = l
			}
		}
		d.problems = append(d.problems, Problem{File: name, Line: line, Key: is.key, Msg: is.msg})
	}
	if len(d.problems) > 0 {
		sortProblems(d.problems)
		return nil, &Error{Problems: d.problems}
	}
	return &c, nil
}

// decoder walks a parsed YAML document into a Config, collecting problems
// rather than stopping at the first.
type decoder struct {
	file     string
	problems []Problem
	// lines maps each key set in the file, and each list item as
	// itemKey(key, i) with i its index in the decoded list, to its line,
	// so that problems found later by check can be placed.
	lines map[string]int
	// failed holds the keys whose values had unreadable parts.
	failed map[string]bool
}

// lineOf returns the line of key, or of the closest enclosing key or list
// item set in the file (a missing rewrite.headers[1].regex is placed on
// its rule), or 0.
func (d *decoder) lineOf(key string) int {
	for key != "" {
		if l, ok := d.lines[key]; ok {
			return l
		}
		i := strings.LastIndexAny(key, ".[")
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return 0
}

func itemKey(key string, i int) string { return key + "[" + strconv.Itoa(i) + "]" }

func (d *decoder) add(line int, key, format string, args ...any) {
	d.problems = append(d.problems, Problem{File: d.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// document parses data as YAML and returns its top-level mapping, or nil if
// there is nothing to decode.
func (d *decoder) document(data []byte) *yaml.Node {
	data = normalizeBreaks(data)
	if line, msg := checkText(data); msg != "" {
		d.add(line, "", "%s", msg)
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := decode(dec, &doc); err != nil {
		if !errors.Is(err, io.EOF) {
			d.syntax(err, data)
		}
		return nil
	}
	var extra yaml.Node
	switch err := decode(dec, &extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		d.syntax(err, data)
	default:
		d.add(extra.Line, "", "the file holds a second YAML document after \"---\"; put every key in one document")
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil
	}
	root := deref(doc.Content[0])
	switch {
	case isNull(root):
		return nil
	case root.Kind != yaml.MappingNode:
		d.add(root.Line, "", "the file must be a mapping of keys to values, like \"listen: 127.0.0.1:3128\", not %s", kindName(root))
		return nil
	}
	return root
}

// decode runs dec.Decode, turning a panic inside the YAML parser into an
// error so that a configuration check reports it instead of crashing.
func decode(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: internal error in the YAML parser: %v", r)
		}
	}()
	return dec.Decode(n)
}

// normalizeBreaks turns every line break YAML knows (CR LF, CR, NEL, LS,
// PS; YAML 1.1 §5.4) into LF, so that lines counted by LF, as this file
// does, are the lines the YAML parser counts. Within values YAML reads such
// breaks as LF anyway, except LS and PS, which no setting has a use for.
func normalizeBreaks(data []byte) []byte {
	if !bytes.ContainsAny(data, "\r\u0085\u2028\u2029") || !utf8.Valid(data) {
		return data
	}
	return []byte(breaks.Replace(string(data)))
}

var breaks = strings.NewReplacer("\r\n", "\n", "\r", "\n", "\u0085", "\n", "\u2028", "\n", "\u2029", "\n")

// checkText reports the first byte sequence YAML does not allow, which
// the YAML parser reports without a line number.
func checkText(data []byte) (line int, msg string) {
	line = 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return line, "the file is not valid UTF-8 text"
		case r == '\n':
			line++
		// YAML 1.2 §5.1: printable characters are tab, line breaks,
		// and everything from space up except C0 and C1 controls,
		// DEL, surrogates and U+FFFE/U+FFFF.
		case r == '\t' || r == '\r' || r == 0x85:
		case r < 0x20 || r >= 0x7f && r < 0xa0 || r == 0xfffe || r == 0xffff:
			return line, fmt.Sprintf("the file contains the control character %U, which YAML does not allow", r)
		}
		i += size
	}
	return 0, ""
}

// syntaxError matches the YAML parser's errors that carry a line.
var syntaxError = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntax records a YAML syntax error. The parser's line numbers need
// adjusting: scanner errors carry the 1-based line, parser errors ("did not
// find expected ...", "found duplicate ...") the 0-based one, and an error
// on the first line carries none.
func (d *decoder) syntax(err error, data []byte) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if m := syntaxError.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
		if isParserError(msg) {
			line++
		}
	} else if name, ok := strings.CutPrefix(msg, "unknown anchor '"); ok {
		name = strings.TrimSuffix(name, "' referenced")
		line = lineOf(data, "*"+name)
	}
	if last := bytes.Count(data, []byte("\n")) + 1; line > last {
		line = last
	}
	d.add(line, "", "invalid YAML: %s%s", msg, syntaxHint(lineText(data, line)))
}

// syntaxHint guesses, from the text of the line a syntax error is on, at
// the usual ways of running into one in a configuration file.
func syntaxHint(line string) string {
	indent := line[:len(line)-len(strings.TrimLeft(line, " \t"))]
	switch {
	case strings.Contains(indent, "\t"):
		return "; indent with spaces, not tabs"
	case strings.Contains(line, "[:") || strings.Contains(line, "::"):
		return `; quote values that start with "[" or contain "::", like "[::1]:3128"`
	case strings.HasSuffix(strings.TrimRight(line, " \t\r"), ": -"):
		return `; quote a lone "-", like access_log: "-"`
	}
	return ""
}

// isParserError reports whether msg is one of the errors of the YAML
// parser (parserc.go) rather than of its scanner.
func isParserError(msg string) bool {
	switch msg {
	case "did not find expected <stream-start>",
		"did not find expected <document start>",
		"did not find expected node content",
		"did not find expected '-' indicator",
		"did not find expected key",
		"did not find expected ',' or ']'",
		"did not find expected ',' or '}'",
		"found undefined tag handle",
		"found duplicate %YAML directive",
		"found incompatible YAML document",
		"found duplicate %TAG directive":
		return true
	}
	return false
}

// lineOf returns the 1-based line of the first occurrence of s in data, or 0.
func lineOf(data []byte, s string) int {
	i := bytes.Index(data, []byte(s))
	if i < 0 {
		return 0
	}
	return 1 + bytes.Count(data[:i], []byte("\n"))
}

// lineText returns the text of the 1-based line n of data, or "".
func lineText(data []byte, n int) string {
	for i := 1; len(data) > 0; i++ {
		l, rest, _ := bytes.Cut(data, []byte("\n"))
		if i == n {
			return string(l)
		}
		data = rest
	}
	return ""
}

// mapping decodes the keys of n into the struct v, whose fields name their
// keys in yaml tags. prefix is "" at the top level and "name." inside the
// mapping under key name.
func (d *decoder) mapping(n *yaml.Node, prefix string, v reflect.Value) {
	fields := fieldsOf(v.Type())
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := deref(n.Content[i]), n.Content[i+1]
		switch {
		case k.Kind != yaml.ScalarNode:
			d.add(k.Line, strings.TrimSuffix(prefix, "."), "keys must be plain names, like listen, not %s", kindName(k))
			continue
		case k.ShortTag() == "!!merge":
			d.add(k.Line, prefix+k.Value, "merge keys are not supported; write the keys out")
			continue
		}
		key := prefix + k.Value
		if first, dup := seen[k.Value]; dup {
			d.add(k.Line, key, "key given twice; first on line %d", first)
			continue
		}
		seen[k.Value] = k.Line
		idx := slices.Index(names, k.Value)
		if idx < 0 {
			d.add(k.Line, key, "%s", unknownKey(prefix, k.Value, names))
			continue
		}
		d.lines[key] = k.Line
		d.value(val, key, k.Line, v.Field(fields[idx].index))
	}
}

// unknownKey describes an unknown key, suggesting a known key at the same
// level whose name is close, or the place a known key of that name belongs.
func unknownKey(prefix, name string, names []string) string {
	if s := suggest(name, names); s != "" {
		return "unknown key; did you mean " + prefix + s + "?"
	}
	var all []string
	keyPaths(reflect.TypeFor[Config](), "", &all)
	for _, p := range all {
		last := p[strings.LastIndex(p, ".")+1:]
		if suggest(name, []string{last}) != "" {
			return "unknown key here; did you mean " + p + "?"
		}
	}
	return "unknown key"
}

type field struct {
	name  string
	index int
}

// fieldsOf lists the fields of struct type t that have a yaml key.
func fieldsOf(t reflect.Type) []field {
	var fs []field
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			fs = append(fs, field{name, i})
		}
	}
	return fs
}

// keyPaths appends the dotted path of every key of struct type t.
func keyPaths(t reflect.Type, prefix string, out *[]string) {
	for _, f := range fieldsOf(t) {
		ft := t.Field(f.index).Type
		if ft.Kind() == reflect.Struct && ft != reflect.TypeFor[netip.Prefix]() {
			keyPaths(ft, prefix+f.name+".", out)
			continue
		}
		*out = append(*out, prefix+f.name)
	}
}

// value decodes n into v, the field for key, which is on line.
func (d *decoder) value(n *yaml.Node, key string, line int, v reflect.Value) {
	n = deref(n)
	switch p := v.Addr().Interface().(type) {
	case *string:
		if s, ok := d.scalar(n, key, line, "a text value"); ok {
			*p = s
		}
	case *int:
		if s, ok := d.scalar(n, key, line, "a whole number"); ok {
			if i, err := parseInt(s); err != nil {
				d.add(line, key, "%v", err)
			} else {
				*p = i
			}
		}
	case *Duration:
		if s, ok := d.scalar(n, key, line, `a duration like "30s"`); ok {
			if x, err := parseDuration(s); err != nil {
				d.add(line, key, "%v", err)
			} else {
				*p = x
			}
		}
	case *Size:
		if s, ok := d.scalar(n, key, line, `a size like "64KiB"`); ok {
			if x, err := ParseSize(s); err != nil {
				d.add(line, key, "%v", err)
			} else {
				*p = x
			}
		}
	case *bool:
		if s, ok := d.scalar(n, key, line, "true or false"); ok {
			switch s {
			case "true":
				*p = true
			case "false":
				*p = false
			default:
				d.add(line, key, "want true or false, not %q", s)
			}
		}
	case *[]string:
		*p = list(d, n, key, line, "a text value", func(s string) (string, error) { return s, nil })
	case *map[string]string:
		*p = d.stringMap(n, key, line)
	case *[]int:
		*p = list(d, n, key, line, "a port number", parseInt)
	case *[]netip.Prefix:
		*p = list(d, n, key, line, "an address range", ParsePrefix)
	default:
		if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Struct {
			d.structs(n, key, line, v)
			return
		}
		if v.Kind() != reflect.Struct {
			panic("config: no decoder for the type of " + key + ": " + v.Type().String())
		}
		switch {
		case isNull(n):
			d.add(line, key, "no value; delete the line to keep the defaults")
		case n.Kind != yaml.MappingNode:
			d.add(line, key, "want a mapping of keys to values under %s, not %s", key, kindName(n))
		default:
			d.mapping(n, key+".", v)
		}
	}
}

// stringMap decodes a mapping of names to text values, like privacy.sites.
// The empty mapping is nil.
func (d *decoder) stringMap(n *yaml.Node, key string, line int) map[string]string {
	switch {
	case isNull(n):
		d.add(line, key, "no value; write {} for none, or delete the line to keep the default")
		d.failed[key] = true
		return nil
	case n.Kind != yaml.MappingNode:
		d.add(line, key, "want a mapping of names to values under %s, not %s", key, kindName(n))
		d.failed[key] = true
		return nil
	}
	var out map[string]string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := deref(n.Content[i]), deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode || isNull(k) {
			d.add(k.Line, key, "names must be plain values, not %s", kindName(k))
			continue
		}
		sub := key + "." + k.Value
		if _, dup := out[k.Value]; dup {
			d.add(k.Line, sub, "given twice")
			continue
		}
		s, ok := d.scalar(val, sub, k.Line, "a text value")
		if !ok {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		d.lines[sub] = k.Line
		out[k.Value] = s
	}
	return out
}

// structs decodes a list of mappings, like rewrite.headers, into the slice
// v of structs; item i's keys are written key[i].name in messages.
func (d *decoder) structs(n *yaml.Node, key string, line int, v reflect.Value) {
	switch {
	case isNull(n):
		d.add(line, key, "no value; write [] for an empty list, or delete the line to keep the default")
		return
	case n.Kind != yaml.SequenceNode:
		d.add(line, key, "want a list of mappings, not %s", kindName(n))
		return
	}
	out := reflect.MakeSlice(v.Type(), 0, len(n.Content))
	for i, raw := range n.Content {
		item := deref(raw)
		ik := itemKey(key, i)
		if item.Kind != yaml.MappingNode {
			d.add(raw.Line, ik, "want a mapping of keys to values, not %s", kindName(item))
			continue
		}
		elem := reflect.New(v.Type().Elem()).Elem()
		d.lines[ik] = raw.Line
		d.mapping(item, ik+".", elem)
		out = reflect.Append(out, elem)
	}
	if out.Len() > 0 {
		v.Set(out)
	}
}

// scalar returns the text of n, which should be a single value.
func (d *decoder) scalar(n *yaml.Node, key string, line int, want string) (string, bool) {
	switch {
	case isNull(n):
		d.add(line, key, "no value; write one, or delete the line to keep the default")
		return "", false
	case n.Kind != yaml.ScalarNode:
		d.add(line, key, "want %s, not %s", want, kindName(n))
		return "", false
	}
	return n.Value, true
}

// list decodes a YAML list with parse applied to each item. An item that
// cannot be read is reported and left out. The empty list is nil.
func list[T any](d *decoder, n *yaml.Node, key string, line int, want string, parse func(string) (T, error)) []T {
	switch {
	case isNull(n):
		d.add(line, key, "no value; write [] for an empty list, or delete the line to keep the default")
		d.failed[key] = true
		return nil
	case n.Kind != yaml.SequenceNode:
		d.add(line, key, "want a list, like [%s], not %s", exampleItem(n), kindName(n))
		d.failed[key] = true
		return nil
	}
	var out []T
	for _, raw := range n.Content {
		item := deref(raw)
		var err error
		switch {
		case isNull(item):
			err = errors.New("empty list item")
		case item.Kind != yaml.ScalarNode:
			err = fmt.Errorf("want %s in the list, not %s", want, kindName(item))
		default:
			var v T
			if v, err = parse(item.Value); err == nil {
				d.lines[itemKey(key, len(out))] = raw.Line
				out = append(out, v)
				continue
			}
		}
		d.add(raw.Line, key, "%v", err)
		d.failed[key] = true
	}
	return out
}

// exampleItem returns the text of a scalar n, to show how a list of it is
// written, or "...".
func exampleItem(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode && len(n.Value) <= 40 && !strings.ContainsAny(n.Value, "\n,[]{}") {
		return n.Value
	}
	return "..."
}

// parseInt reads a whole number in decimal. YAML's own reading would take
// 0443 as octal and 0x1bb as hex, which no one means in a proxy's settings.
func parseInt(s string) (int, error) {
	i, err := strconv.Atoi(strings.TrimSpace(s))
	if errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("number %q is out of range", s)
	}
	if err != nil {
		return 0, fmt.Errorf("want a whole number, not %q", s)
	}
	return i, nil
}

// deref returns the node an alias (*name) refers to, or n itself.
func deref(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// kindName names the kind of n for messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		if len(n.Value) > 40 {
			return "a single value"
		}
		return fmt.Sprintf("the value %q", n.Value)
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.AliasNode:
		return "an alias"
	}
	return "a YAML document"
}
