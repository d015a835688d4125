package telemetry

import (
	"testing"
	"time"
)

func TestAppendRFC3339MillisMatchesTimeFormat(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2026, 3, 7, 9, 4, 5, 123456789, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 7, 1, 2, 3, 4, 5_000_000, time.FixedZone("CEST", 2*3600)),
	} {
		want := tm.UTC().Format("2006-01-02T15:04:05.000Z")
		if got := string(appendStartTime(nil, tm, nil)); got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
}

func TestStrftimeVerbs(t *testing.T) {
	tm := time.Date(2026, 11, 22, 15, 4, 5, 987654321, time.UTC) // a Sunday
	tests := []struct{ format, want string }{
		{"%Y %C %y %m %d %e", "2026 20 26 11 22 22"},
		{"%H %I %M %S %p", "15 03 04 05 PM"},
		{"%a %A %b %h %B", "Sun Sunday Nov Nov November"},
		{"%T %F %D %R", "15:04:05 2026-11-22 11/22/26 15:04"},
		{"%u %w %j", "7 0 326"},
		{"%1f %3f %6f %9f %f", "9 987 987654 987654321 987654321"},
		{"%s", "1795359845"},
		{"a%nb%tc%%", "a\nb\tc%"},
		{"%Q %", "%Q %"},
	}
	for _, tt := range tests {
		if got := string(appendStartTime(nil, tm, compileStrftime(tt.format))); got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.format, got, tt.want)
		}
	}
}
