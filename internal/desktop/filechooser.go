package desktop

// SetFileChooserDialog records desktop.file_chooser_dialog. Handling the
// dialogs (noticing one open, uploading into it) is not implemented yet, so
// the setting only decides how the upload dialog endpoints refuse.
func (d *Desktop) SetFileChooserDialog(on bool) { d.fileChooser.Store(on) }

// FileChooserDialogEnabled reports SetFileChooserDialog's setting.
func (d *Desktop) FileChooserDialogEnabled() bool { return d.fileChooser.Load() }
