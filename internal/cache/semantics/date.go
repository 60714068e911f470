package semantics

import "time"

// ParseDate parses an HTTP-date (RFC 9110 §5.6.7) in any of its three
// formats, as a recipient must: IMF-fixdate ("Sun, 06 Nov 1994 08:49:37
// GMT"), the obsolete RFC 850 format ("Sunday, 06-Nov-94 08:49:37 GMT") and
// asctime ("Sun Nov  6 08:49:37 1994"). HTTP-date is case-sensitive and in
// UTC. ok is false for anything else, including impossible dates such as
// 31 Feb.
//
// An RFC 850 two-digit year is read in the fixed window 1970–2069. RFC 9110
// asks instead for the most recent past year with the same last two digits
// when a date appears more than 50 years in the future, which needs a
// clock; the two readings differ only for years that no server sends in
// this obsolete format. It does not allocate.
func ParseDate(s string) (time.Time, bool) {
	switch {
	case len(s) == len("Sun, 06 Nov 1994 08:49:37 GMT") && s[3] == ',':
		return parseIMFFixdate(s)
	case len(s) == len("Sun Nov  6 08:49:37 1994") && s[3] == ' ':
		return parseAsctime(s)
	default:
		return parseRFC850(s)
	}
}

// parseIMFFixdate parses day-name "," SP date1 SP time-of-day SP GMT, where
// date1 = day SP month SP year: "Sun, 06 Nov 1994 08:49:37 GMT".
func parseIMFFixdate(s string) (time.Time, bool) {
	if dayName(s[:3]) < 0 || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[25:] != " GMT" {
		return time.Time{}, false
	}
	day, ok1 := digits(s[5:7])
	month := monthName(s[8:11])
	year, ok2 := digits(s[12:16])
	if !ok1 || !ok2 || month < 0 {
		return time.Time{}, false
	}
	return build(year, month, day, s[17:25])
}

// parseRFC850 parses day-name-l "," SP date2 SP time-of-day SP GMT, where
// date2 = day "-" month "-" 2DIGIT: "Sunday, 06-Nov-94 08:49:37 GMT".
func parseRFC850(s string) (time.Time, bool) {
	const tail = len(", 06-Nov-94 08:49:37 GMT")
	if len(s) <= tail {
		return time.Time{}, false
	}
	name, r := s[:len(s)-tail], s[len(s)-tail:]
	if longDayName(name) < 0 || r[:2] != ", " || r[4] != '-' || r[8] != '-' || r[11] != ' ' || r[20:] != " GMT" {
		return time.Time{}, false
	}
	day, ok1 := digits(r[2:4])
	month := monthName(r[5:8])
	yy, ok2 := digits(r[9:11])
	if !ok1 || !ok2 || month < 0 {
		return time.Time{}, false
	}
	// RFC 9110 §5.6.7: a two-digit year more than 50 years in the future
	// is the most recent past year with those digits. This is the one
	// rule that needs the current year; it is read here.
	cur := time.Now().UTC().Year()
	year := cur - cur%100 + yy
	if year > cur+50 {
		year -= 100
	}
	return build(year, month, day, r[12:20])
}

// parseAsctime parses day-name SP date3 SP time-of-day SP year, where
// date3 = month SP ( 2DIGIT / ( SP DIGIT )): "Sun Nov  6 08:49:37 1994".
func parseAsctime(s string) (time.Time, bool) {
	if dayName(s[:3]) < 0 || s[7] != ' ' || s[10] != ' ' || s[19] != ' ' {
		return time.Time{}, false
	}
	month := monthName(s[4:7])
	d := s[8:10]
	if d[0] == ' ' {
		d = d[1:]
	}
	day, ok1 := digits(d)
	year, ok2 := digits(s[20:24])
	if !ok1 || !ok2 || month < 0 {
		return time.Time{}, false
	}
	return build(year, month, day, s[11:19])
}

// build checks the fields and the time-of-day "hh:mm:ss" and makes the
// time. A second of 60 (a leap second, RFC 9110 §5.6.7) is allowed.
func build(year, month, day int, tod string) (time.Time, bool) {
	if tod[2] != ':' || tod[5] != ':' {
		return time.Time{}, false
	}
	hour, ok1 := digits(tod[0:2])
	minute, ok2 := digits(tod[3:5])
	sec, ok3 := digits(tod[6:8])
	if !ok1 || !ok2 || !ok3 || hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, false
	}
	if day < 1 || day > daysIn(time.Month(month), year) {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC), true
}

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// digits parses a short run of ASCII digits.
func digits(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func dayName(s string) int {
	for i, n := range [...]string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"} {
		if s == n {
			return i
		}
	}
	return -1
}

func longDayName(s string) int {
	for i, n := range [...]string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"} {
		if s == n {
			return i
		}
	}
	return -1
}

// monthName returns the month number (1–12) of a three-letter month, or -1.
func monthName(s string) int {
	for i, n := range [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"} {
		if s == n {
			return i + 1
		}
	}
	return -1
}

// headerDate parses the first line of a date field, reporting whether it
// is present and valid.
func headerDate(vals []string) (time.Time, bool) {
	if len(vals) == 0 {
		return time.Time{}, false
	}
	return ParseDate(vals[0])
}
