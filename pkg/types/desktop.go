package types

// ClipboardText is the clipboard as REST reads and writes it
// (GET/POST /api/room/clipboard).
type ClipboardText struct {
	Text string `json:"text,omitempty"`
	HTML string `json:"html,omitempty"`
}

// ClipboardData is the payload of clipboard/set, clipboard/updated and
// control/paste (where it is optional).
type ClipboardData struct {
	Text string `json:"text"`
}

// KeyboardMap is an XKB layout and variant, e.g. "us" and "dvorak"; several
// groups are comma separated ("us,de").
type KeyboardMap struct {
	Layout  string `json:"layout"`
	Variant string `json:"variant"`
}

// KeyboardModifiers are the keyboard's modifier states. In a request a nil
// field leaves that modifier unchanged; replies set every field.
type KeyboardModifiers struct {
	Shift    *bool `json:"shift,omitempty"`
	CapsLock *bool `json:"capslock,omitempty"`
	Control  *bool `json:"control,omitempty"`
	Alt      *bool `json:"alt,omitempty"`
	NumLock  *bool `json:"numlock,omitempty"`
	Meta     *bool `json:"meta,omitempty"`
	Super    *bool `json:"super,omitempty"`
	AltGr    *bool `json:"altgr,omitempty"`
}

// FileChooserDialogOpened tells clients which session holds the open file
// chooser dialog (file_chooser_dialog/opened).
type FileChooserDialogOpened struct {
	ID string `json:"id"`
}
