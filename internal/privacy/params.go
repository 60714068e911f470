package privacy

import (
	"fmt"
	"slices"
	"strings"
)

// TrackingParams are the query parameters Standard and Strict remove from
// request URLs: click identifiers that ad networks and mailing services
// append to links so the destination can tie a visit to a person or a
// campaign. A name ending in '*' is a prefix. The list keeps to names that
// exist only to track, so that removing them does not change the page.
// Each call returns a new slice.
func TrackingParams() []string { return slices.Clone(builtinParams) }

var builtinParams = []string{
	// Campaign tags: Google Analytics and everyone after it (utm_source,
	// utm_medium, utm_campaign, utm_term, utm_content, utm_id, ...),
	// Matomo (mtm_*, and Piwik's pk_*), HubSpot ads (hsa_*).
	"utm_*", "mtm_*", "hsa_*",
	"pk_campaign", "pk_kwd", "pk_source", "pk_medium", "pk_content", "pk_cid",
	// Google: Ads click IDs, iOS-era click IDs, ads source, Merchant
	// Center, the cross-domain linker (carries the Analytics client ID).
	"gclid", "gclsrc", "dclid", "gbraid", "wbraid", "gad_source", "gad_campaignid", "srsltid", "_gl",
	// Meta: Facebook click ID, share attributions; Instagram share IDs.
	"fbclid", "fb_action_ids", "fb_action_types", "fb_ref", "igshid", "igsh",
	// Microsoft Ads, Yandex, X (Twitter), TikTok, LinkedIn, Pinterest,
	// Snapchat, Impact, Rakuten / other affiliate networks.
	"msclkid", "yclid", "ysclid", "twclid", "ttclid", "li_fat_id", "epik", "ScCid", "irclickid", "rb_clickid", "wickedid",
	// Mailing and marketing automation: Mailchimp, HubSpot, Marketo,
	// Olytics, Vero, MailerLite, Klaviyo, Bronto, ActiveCampaign, Drip.
	"mc_cid", "mc_eid", "_hsenc", "_hsmi", "__hssc", "__hstc", "__hsfp", "hsCtaTracking",
	"mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id", "vero_conv",
	"ml_subscriber", "ml_subscriber_hash", "_kx", "_bta_tid", "_bta_c", "vgo_ee", "__s",
	// Adobe Analytics campaign ID, Openstat (Yandex).
	"s_cid", "_openstat",
}

// maxParamLen bounds the length of a tracking parameter name, so a name
// being compared can be percent-decoded into a buffer on the stack.
const maxParamLen = 64

// matcher recognises tracking parameters and removes them from queries.
type matcher struct {
	exact    map[string]struct{}
	prefixes []string
	// lead marks the bytes a tracking name can start with: most names in a
	// query are rejected by one table lookup.
	lead [256]bool
}

// newMatcher builds a matcher for the built-in names and extra.
func newMatcher(extra []string) (matcher, error) {
	m := matcher{exact: make(map[string]struct{})}
	for _, name := range slices.Concat(builtinParams, extra) {
		if err := checkParam(name); err != nil {
			return matcher{}, fmt.Errorf("tracking parameter %q: %w", name, err)
		}
		if p, ok := strings.CutSuffix(name, "*"); ok {
			if !slices.Contains(m.prefixes, p) {
				m.prefixes = append(m.prefixes, p)
			}
		} else {
			m.exact[name] = struct{}{}
		}
		m.lead[name[0]] = true
	}
	return m, nil
}

// checkParam validates a tracking parameter name as written in Options: a
// decoded name, or a prefix ending in '*'.
func checkParam(name string) error {
	p, _ := strings.CutSuffix(name, "*")
	switch {
	case p == "":
		return fmt.Errorf("empty name (a lone '*' would remove every parameter)")
	case len(p) > maxParamLen:
		return fmt.Errorf("longer than %d bytes", maxParamLen)
	case strings.ContainsAny(p, "*"):
		return fmt.Errorf("'*' is allowed only at the end, for a prefix")
	case strings.ContainsAny(p, "&=#%+ "):
		return fmt.Errorf("write the decoded name, without '&', '=', '#', '%%', '+' or spaces")
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x20 || c == 0x7f {
			return fmt.Errorf("control character in name")
		}
	}
	return nil
}

// strip returns q without its tracking parameters, and whether it removed
// any. The query is split on '&' (as browsers and Go's url.ParseQuery do;
// ';' is not a separator); a parameter's name is what precedes its first
// '=', compared after percent-decoding ("utm%5Fsource" is utm_source, as
// the site's own scripts would read it) and case-sensitively. A query with
// nothing to remove is returned as it is, without allocating. Otherwise
// the parameters kept are joined with '&' byte for byte as they were, in
// their order, and empty ones ("a&&b") are dropped.
func (m *matcher) strip(q string) (string, bool) {
	found := false
	for rest := q; rest != "" && !found; {
		var piece string
		piece, rest, _ = strings.Cut(rest, "&")
		found = m.tracking(piece)
	}
	if !found {
		return q, false
	}
	var b strings.Builder
	b.Grow(len(q))
	for rest := q; rest != ""; {
		var piece string
		piece, rest, _ = strings.Cut(rest, "&")
		if piece == "" || m.tracking(piece) {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(piece)
	}
	if b.Len() == 0 {
		return "", true // no allocation kept for an empty query
	}
	return b.String(), true
}

// tracking reports whether a query parameter ("name=value", "name" or
// "name=") is a tracking parameter.
func (m *matcher) tracking(param string) bool {
	name := param
	if i := strings.IndexByte(param, '='); i >= 0 {
		name = param[:i]
	}
	if name == "" {
		return false
	}
	if strings.IndexByte(name, '%') < 0 && strings.IndexByte(name, '+') < 0 {
		if !m.lead[name[0]] {
			return false
		}
		return m.match(name)
	}
	// Decode as much of the name as any tracking name can be long, and one
	// byte more so that a longer name cannot match an exact one.
	var buf [maxParamLen + 1]byte
	n := 0
	for i := 0; i < len(name) && n < len(buf); i++ {
		c := name[i]
		switch c {
		case '+':
			c = ' '
		case '%':
			if i+2 < len(name) && ishex(name[i+1]) && ishex(name[i+2]) {
				c = unhex(name[i+1])<<4 | unhex(name[i+2])
				i += 2
			}
		}
		buf[n] = c
		n++
	}
	if !m.lead[buf[0]] {
		return false
	}
	return m.matchBytes(buf[:n])
}

// match reports whether a decoded name is a tracking parameter.
func (m *matcher) match(name string) bool {
	for _, p := range m.prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	_, ok := m.exact[name]
	return ok
}

// matchBytes is match for a name in a buffer; the conversions below do not
// allocate.
func (m *matcher) matchBytes(name []byte) bool {
	for _, p := range m.prefixes {
		if len(name) >= len(p) && string(name[:len(p)]) == p {
			return true
		}
	}
	_, ok := m.exact[string(name)]
	return ok
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
