package config

import (
	"time"

	"github.com/spf13/viper"
)

// Plugins configures the built-in plugins.
type Plugins struct {
	Enabled      bool
	Required     bool
	Dir          string
	Chat         struct{ Enabled bool }
	FileTransfer struct {
		Enabled                              bool
		Dir                                  string
		RefreshInterval                      time.Duration
		UserDownload, UserUpload, UserDelete bool
	}
	OpenInApp struct {
		Enabled     bool
		OpenCommand string
	}
}

func loadPlugins(v *viper.Viper) Plugins {
	var p Plugins
	p.Enabled = v.GetBool("plugins.enabled")
	p.Required = v.GetBool("plugins.required")
	p.Dir = v.GetString("plugins.dir")
	p.Chat.Enabled = v.GetBool("chat.enabled")
	ft := &p.FileTransfer
	ft.Enabled = v.GetBool("filetransfer.enabled")
	ft.Dir = v.GetString("filetransfer.dir")
	ft.RefreshInterval = v.GetDuration("filetransfer.refresh_interval")
	ft.UserDownload = v.GetBool("filetransfer.user_download")
	ft.UserUpload = v.GetBool("filetransfer.user_upload")
	ft.UserDelete = v.GetBool("filetransfer.user_delete")
	p.OpenInApp.Enabled = v.GetBool("openinapp.enabled")
	p.OpenInApp.OpenCommand = v.GetString("openinapp.open_command")
	return p
}
