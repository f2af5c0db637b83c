package runtime

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	x11LockDir   = "/tmp"
	x11SocketDir = "/tmp/.X11-unix"
	firstDisplay = 10
	lastDisplay  = 999
)

// findFreeDisplay returns the first display number >= start that no running
// X server uses: its lock file (lockDir/.X<N>-lock) names no live process and
// neither its socket file (sockDir/X<N>) nor the abstract socket of the same
// name accepts connections.
func findFreeDisplay(start int, lockDir, sockDir string) (int, error) {
	for n := start; n <= lastDisplay; n++ {
		if !displayInUse(n, lockDir, sockDir) {
			return n, nil
		}
	}
	return 0, fmt.Errorf("no free X display number in :%d-:%d", start, lastDisplay)
}

func displayInUse(n int, lockDir, sockDir string) bool {
	if pid, err := readLockPid(filepath.Join(lockDir, fmt.Sprintf(".X%d-lock", n))); err == nil {
		if pidAlive(pid) {
			return true
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		// Unreadable or garbled lock: the X server would refuse it too.
		return true
	}
	sock := filepath.Join(sockDir, fmt.Sprintf("X%d", n))
	if _, err := os.Lstat(sock); err == nil && canConnect(sock) {
		return true
	}
	// Linux X servers also listen on an abstract socket, which is shared by
	// every process in the network namespace, even with a private /tmp.
	return canConnect("@" + sock)
}

// readLockPid parses an X lock file, which holds the server's pid as text.
func readLockPid(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("bad X lock file %s: %q", path, b)
	}
	return pid, nil
}

func pidAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func canConnect(addr string) bool {
	c, err := net.DialTimeout("unix", addr, 500*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// displaySocket is the unix socket path of display n.
func displaySocket(n int) string {
	return filepath.Join(x11SocketDir, fmt.Sprintf("X%d", n))
}
