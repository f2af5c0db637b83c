package types

// ICEServer is an ICE server as clients receive it.
type ICEServer struct {
	URLs       []string `json:"urls" mapstructure:"urls"`
	Username   string   `json:"username,omitempty" mapstructure:"username"`
	Credential string   `json:"credential,omitempty" mapstructure:"credential"`
}

// VideoSelector picks a video quality by id. Type is one of exact,
// nearest, lower, higher (what the running reference accepts).
type VideoSelector struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

// SignalVideoRequest is the video part of signal/request and signal/video.
type SignalVideoRequest struct {
	Disabled *bool          `json:"disabled,omitempty"`
	Selector *VideoSelector `json:"selector,omitempty"`
	Auto     *bool          `json:"auto,omitempty"`
}

// SignalAudioRequest is the audio part of signal/request and signal/audio.
type SignalAudioRequest struct {
	Disabled *bool `json:"disabled,omitempty"`
}

// SignalRequest asks the server to start a WebRTC peer.
type SignalRequest struct {
	Video SignalVideoRequest `json:"video"`
	Audio SignalAudioRequest `json:"audio"`
	Auto  bool               `json:"auto,omitempty"`
}

// SignalVideo is the video state the server reports.
type SignalVideo struct {
	Disabled bool   `json:"disabled"`
	ID       string `json:"id"`
	Video    string `json:"video"`
	Auto     bool   `json:"auto"`
}

// SignalAudio is the audio state the server reports.
type SignalAudio struct {
	Disabled bool `json:"disabled"`
}

// SignalProvide carries the server's offer.
type SignalProvide struct {
	SDP        string      `json:"sdp"`
	ICEServers []ICEServer `json:"iceservers"`
	Video      SignalVideo `json:"video"`
	Audio      SignalAudio `json:"audio"`
}

// SignalDescription is signal/offer, signal/answer and signal/restart.
type SignalDescription struct {
	SDP string `json:"sdp"`
}

// SignalCandidate is a trickled ICE candidate, in the browser's
// RTCIceCandidateInit shape.
type SignalCandidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex"`
	UsernameFragment *string `json:"usernameFragment"`
}
