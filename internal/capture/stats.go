package capture

// Started is the number of pipelines this stream has started (restarts
// after a failure or a resize included), for metrics and tests.
func (s *Stream) Started() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.generated
}
