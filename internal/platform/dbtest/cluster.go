package dbtest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
)

// cluster is a throwaway PostgreSQL server owned by this test process.
type cluster struct {
	bin, dir string
	cred     *syscall.Credential
}

var (
	clusterMu sync.Mutex
	running   *cluster
)

// Main runs a package's tests and then stops the throwaway PostgreSQL
// cluster if one was started. Packages that use PostgreSQL call it from
// TestMain.
func Main(m *testing.M) {
	code := m.Run()
	StopCluster()
	os.Exit(code)
}

// StopCluster stops the throwaway cluster, if any, and removes its files.
func StopCluster() {
	clusterMu.Lock()
	defer clusterMu.Unlock()
	if running == nil {
		return
	}
	_ = running.run("pg_ctl", "-D", running.dir, "-m", "immediate", "-w", "stop")
	_ = os.RemoveAll(filepath.Dir(running.dir))
	running = nil
}

// startCluster initialises and starts a private cluster on a free loopback
// port, with durability off (tests never need it) and trust authentication
// on loopback only. initdb refuses to run as root, so as root the cluster
// runs as the postgres user.
func startCluster() (string, error) {
	bin, err := findPGBin()
	if err != nil {
		return "", err
	}
	c := &cluster{bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return "", fmt.Errorf("running as root needs a postgres user for initdb: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	base, err := os.MkdirTemp("", "mainstay-pgtest-")
	if err != nil {
		return "", err
	}
	c.dir = filepath.Join(base, "data")
	if c.cred != nil {
		if err := os.Chown(base, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return "", err
		}
	}
	if err := c.run("initdb", "-D", c.dir, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"); err != nil {
		os.RemoveAll(base)
		return "", err
	}
	port, err := freePort()
	if err != nil {
		return "", err
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200", port, base)
	if err := c.run("pg_ctl", "-D", c.dir, "-o", opts, "-l", filepath.Join(base, "log"), "-w", "start"); err != nil {
		os.RemoveAll(base)
		return "", err
	}
	clusterMu.Lock()
	running = c
	clusterMu.Unlock()
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port), nil
}

func (c *cluster) run(name string, args ...string) error {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	cmd.Dir = os.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", name, err, out)
	}
	return nil
}

func findPGBin() (string, error) {
	if p, err := exec.LookPath("pg_config"); err == nil {
		if out, err := exec.Command(p, "--bindir").Output(); err == nil {
			dir := string(out[:len(out)-1])
			if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
				return dir, nil
			}
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) > 0 {
		return filepath.Dir(matches[len(matches)-1]), nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("no PostgreSQL server binaries (initdb) found")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
