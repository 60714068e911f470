package semantics

import (
	"math"
	"net/http"
	"testing"
	"time"
)

func TestCurrentAge(t *testing.T) {
	req := t0.Add(-2 * time.Second) // request_time
	resp := t0                      // response_time
	now := t0.Add(10 * time.Second) // resident_time = 10s
	for _, tc := range []struct {
		name                   string
		h                      http.Header
		reqTime, respTime, now time.Time
		want                   time.Duration
	}{
		// corrected_age_value = 0 + 2 = 2; apparent_age = 0; +10 resident
		{"§4.2.3 no Age, Date equal to response time", hdr("Date", httpDate(t0)), req, resp, now, 12 * time.Second},
		// apparent_age = 30 > corrected_age_value 2
		{"§4.2.3 apparent age from Date", hdr("Date", httpDate(t0.Add(-30*time.Second))), req, resp, now, 40 * time.Second},
		// apparent_age = max(0, -60) = 0
		{"§4.2.3 Date in the future clamps apparent age", hdr("Date", httpDate(t0.Add(time.Minute))), req, resp, now, 12 * time.Second},
		// corrected_age_value = 100 + 2 = 102 > apparent 30
		{"§4.2.3 Age plus response delay", hdr("Date", httpDate(t0.Add(-30*time.Second)), "Age", "100"), req, resp, now, 112 * time.Second},
		{"§4.2.3 Date missing is response time", hdr("Age", "5"), req, resp, now, 17 * time.Second},
		{"§4.2.3 Date invalid is response time", hdr("Date", "garbage", "Age", "5"), req, resp, now, 17 * time.Second},
		{"§5.1 Age list uses first member", hdr("Age", "5, 50"), req, resp, now, 17 * time.Second},
		{"§5.1 several Age lines use the first", hdr("Age", "5", "Age", "50"), req, resp, now, 17 * time.Second},
		{"§5.1 invalid Age ignored", hdr("Age", "-5"), req, resp, now, 12 * time.Second},
		{"§5.1 decimal Age ignored", hdr("Age", "1.5"), req, resp, now, 12 * time.Second},
		{"§1.2.2 huge Age saturates at 2^31 s", hdr("Age", "99999999999999999999"), req, resp, now, (1<<31)*time.Second + 12*time.Second},
		{"§4.2.3 resident time only", hdr("Date", httpDate(t0)), t0, t0, t0.Add(time.Hour), time.Hour},
		{"§4.2.3 now before response time counts as 0", hdr("Date", httpDate(t0)), t0, t0, t0.Add(-time.Hour), 0},
		{"§4.2.3 request after response counts as 0 delay", hdr("Date", httpDate(t0)), t0.Add(time.Second), t0, t0, 0},
		{"§1.2.2 overflow saturates", hdr("Age", "2147483648"), time.Time{}, t0, t0.Add(math.MaxInt64), math.MaxInt64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := CurrentAge(tc.h, tc.reqTime, tc.respTime, tc.now); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
