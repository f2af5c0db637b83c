package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/neko-webrtc/neko/internal/member/file"
)

// newPassword prints the form a members file keeps a password in when
// member.file.hash is on: sha256 in standard base64, the same as
// `echo -n PASSWORD | openssl sha256 -binary | base64`.
func newPassword() *cobra.Command {
	return &cobra.Command{
		Use:   "password [PASSWORD]",
		Short: "Print a password hashed for the members file (member.file.hash)",
		Long: "Print the sha256 of a password in base64, as the file member provider stores it\n" +
			"with member.file.hash on. Without an argument the password is read from the first\n" +
			"line of standard input (which keeps it out of the shell history).",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var pw string
			if len(args) == 1 {
				pw = args[0]
			} else {
				in := cmd.InOrStdin()
				if f, ok := in.(*os.File); ok {
					if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
						fmt.Fprint(cmd.ErrOrStderr(), "Password: ")
					}
				}
				line, err := bufio.NewReader(io.LimitReader(in, 64<<10)).ReadString('\n')
				if err != nil && !errors.Is(err, io.EOF) {
					return fmt.Errorf("read password: %w", err)
				}
				pw = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
			}
			if pw == "" {
				return errors.New("the password is empty")
			}
			fmt.Fprintln(cmd.OutOrStdout(), file.Hash(pw))
			return nil
		},
	}
}
