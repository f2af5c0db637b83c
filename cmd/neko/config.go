package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"

	"github.com/neko-webrtc/neko/internal/config"
)

// secretOptions are masked in `neko config` output.
var secretOptions = map[string]bool{
	"member.multiuser.admin_password": true,
	"member.multiuser.user_password":  true,
	"member.object.users":             true,
	"session.api_token":               true,
	"webrtc.iceservers.backend":       true,
	"webrtc.iceservers.frontend":      true,
}

func newConfig() *cobra.Command {
	v := viper.New()
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Print the effective configuration (flags, NEKO_* variables, file and defaults), secrets masked",
		RunE: func(cmd *cobra.Command, args []string) error {
			// Validate as serve would, so a bad value is reported here too.
			if _, err := loadConfig(v); err != nil {
				return err
			}
			out, err := effective(v)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	if err := config.RegisterFlags(cmd.Flags(), v); err != nil {
		panic(err)
	}
	return cmd
}

// effective renders every option as nested YAML, the shape -c accepts.
func effective(v *viper.Viper) ([]byte, error) {
	root := map[string]any{}
	for _, o := range config.Options {
		val := v.Get(o.Name)
		if secretOptions[o.Name] {
			if s := fmt.Sprint(val); s != "" && s != "[]" {
				val = "********"
			}
		}
		node := root
		parts := strings.Split(o.Name, ".")
		for _, p := range parts[:len(parts)-1] {
			next, ok := node[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				node[p] = next
			}
			node = next
		}
		node[parts[len(parts)-1]] = val
	}
	return yaml.Marshal(root)
}
