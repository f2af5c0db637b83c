package types

import "time"

// Time is a timestamp in RFC 3339 with nanoseconds, as the reference sends.
type Time = time.Time
