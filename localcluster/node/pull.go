package node

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// The local node pulls an image only from a registry on this machine: one
// whose host is localhost or a loopback address, spoken to over plain HTTP
// (`gammaproof images push --registry 127.0.0.1:5000`). Every other
// reference resolves through the image table; nothing is fetched from
// outside the machine.
//
// A pulled image is cached under <image dir>/pulled/<manifest digest>:
// rootfs/ holds its layers unpacked, bin/ the links to its executables (the
// PATH directories of its config, and its entrypoint). Its binaries run on
// the host's file system, like every container of this node: a static
// binary runs as it would in the image, a dynamically linked one uses the
// host's libraries. The image config's Env is not applied.

// pullTimeout bounds one pull.
const pullTimeout = 5 * time.Minute

// pullMu serialises pulls: two containers of the same image unpack it once.
var pullMu sync.Mutex

// defaultImagePATH is the PATH of an image whose config sets none.
const defaultImagePATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// PullsFromRegistry reports whether the node pulls ref from a registry
// rather than resolving it through its image table: ref names a registry
// host (a '.' or ':' before the first '/', or "localhost") that is on this
// machine (localhost or a loopback address).
func PullsFromRegistry(ref string) bool {
	host, _, ok := strings.Cut(strings.TrimSpace(ref), "/")
	if !ok || !(strings.ContainsAny(host, ".:") || host == "localhost") {
		return false
	}
	return isLoopbackHost(host)
}

// isLoopbackHost reports whether host[:port] is localhost or a loopback IP.
func isLoopbackHost(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.Trim(h, "[]")
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// pull resolves ref, a reference [PullsFromRegistry] accepts, by pulling
// its linux/<GOARCH> image, unpacking it into the cache and linking its
// executables. When the registry cannot be reached, the image last pulled
// for ref is used, if any. Errors wrap [ErrImageNotResolvable].
func (t *ImageTable) pull(ref string) (Image, error) {
	pullMu.Lock()
	defer pullMu.Unlock()
	cache := filepath.Join(t.imageDir, "pulled")
	digest, perr := fetch(ref, cache)
	if perr != nil {
		last, err := os.ReadFile(refFile(cache, ref))
		if err != nil {
			return Image{}, fmt.Errorf("image %q: %w: pull: %w", ref, ErrImageNotResolvable, perr)
		}
		digest = strings.TrimSpace(string(last))
	}
	im, err := cachedImage(ref, filepath.Join(cache, digest))
	if err != nil {
		return Image{}, fmt.Errorf("image %q: %w: %w", ref, ErrImageNotResolvable, errors.Join(perr, err))
	}
	if err := t.prepare(im); err != nil {
		return Image{}, err
	}
	return im, nil
}

// refFile is where the cache records the digest last pulled for ref.
func refFile(cache, ref string) string {
	sum := sha256.Sum256([]byte(ref))
	return filepath.Join(cache, "refs", hex.EncodeToString(sum[:]))
}

// fetch pulls the linux/<GOARCH> image of ref into cache/<digest hex>
// unless it is there, records it as ref's, and returns the digest hex.
func fetch(ref, cache string) (string, error) {
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return "", fmt.Errorf("parse reference: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), pullTimeout)
	defer cancel()
	want := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	img, err := remote.Image(r, remote.WithContext(ctx), remote.WithPlatform(want))
	if err != nil {
		return "", fmt.Errorf("get %s for %s/%s: %w", r, want.OS, want.Architecture, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return "", fmt.Errorf("read config of %s: %w", r, err)
	}
	if cf.OS != want.OS || cf.Architecture != want.Architecture {
		return "", fmt.Errorf("%s is for %s/%s, this node is %s/%s", r, cf.OS, cf.Architecture, want.OS, want.Architecture)
	}
	d, err := img.Digest()
	if err != nil {
		return "", fmt.Errorf("digest of %s: %w", r, err)
	}
	dir := filepath.Join(cache, d.Hex)
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		if err := unpackImage(img, cf, dir); err != nil {
			return "", fmt.Errorf("unpack %s: %w", r, err)
		}
	}
	rf := refFile(cache, ref)
	if err := os.MkdirAll(filepath.Dir(rf), 0o755); err != nil {
		return "", fmt.Errorf("record %s: %w", r, err)
	}
	if err := os.WriteFile(rf, []byte(d.Hex+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("record %s: %w", r, err)
	}
	return d.Hex, nil
}

// unpackImage writes img's flattened file system to dir/rootfs and its
// config to dir/config.json, through a temporary directory renamed into
// place when complete.
func unpackImage(img v1.Image, cf *v1.ConfigFile, dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".unpack-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	rootfs := filepath.Join(tmp, "rootfs")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		return err
	}
	fs := mutate.Extract(img)
	err = untar(fs, rootfs)
	if cerr := fs.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	b, err := json.Marshal(cf)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, "config.json"), b, 0o644); err != nil {
		return err
	}
	_ = os.RemoveAll(dir) // a partial copy: no config.json
	return os.Rename(tmp, dir)
}

// untar writes the tar stream r under dir. Every write goes through an
// [os.Root], so no entry (nor a symlink an entry made) reaches outside
// dir. Directories, regular files, symlinks and hard links are written;
// devices and FIFOs are skipped; owners are not kept, nor setuid bits.
func untar(r io.Reader, dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read layers: %w", err)
		}
		p := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		if p == "" {
			continue
		}
		if d := path.Dir(p); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("unpack %s: %w", h.Name, err)
			}
		}
		mode := os.FileMode(h.Mode).Perm()
		switch h.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(p, 0o755); err != nil {
				return fmt.Errorf("unpack %s: %w", h.Name, err)
			}
			if err := root.Chmod(p, mode|0o700); err != nil {
				return fmt.Errorf("unpack %s: %w", h.Name, err)
			}
		case tar.TypeReg:
			_ = root.Remove(p)
			f, err := root.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				return fmt.Errorf("unpack %s: %w", h.Name, err)
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				err = root.Chmod(p, mode)
			}
			if err != nil {
				return fmt.Errorf("unpack %s: %w", h.Name, err)
			}
		case tar.TypeSymlink:
			_ = root.Remove(p)
			if err := root.Symlink(h.Linkname, p); err != nil {
				return fmt.Errorf("unpack %s: %w", h.Name, err)
			}
		case tar.TypeLink:
			_ = root.Remove(p)
			target := strings.TrimPrefix(path.Clean("/"+h.Linkname), "/")
			if err := root.Link(target, p); err != nil {
				return fmt.Errorf("unpack %s: %w", h.Name, err)
			}
		}
	}
}

// cachedImage is the [Image] of the image unpacked in dir: links in dir/bin
// to the executables of its PATH directories and to its entrypoint.
func cachedImage(ref, dir string) (Image, error) {
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return Image{}, fmt.Errorf("read cached image: %w", err)
	}
	var cf v1.ConfigFile
	if err := json.Unmarshal(b, &cf); err != nil {
		return Image{}, fmt.Errorf("read cached image: %w", err)
	}
	rootfs := filepath.Join(dir, "rootfs")
	name, _ := splitRef(ref) // a pulled image's name is its reference without tag or digest
	im := Image{
		Name:  name,
		Dir:   filepath.Join(dir, "bin"),
		Links: map[string]string{},
	}
	pathDirs := strings.Split(defaultImagePATH, ":")
	for _, e := range cf.Config.Env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			pathDirs = strings.Split(v, ":")
		}
	}
	for _, d := range pathDirs {
		linkExecutables(rootfs, d, im.Links)
	}
	im.Entrypoint = slices.Clone(cf.Config.Entrypoint)
	im.Cmd = slices.Clone(cf.Config.Cmd)
	argv0 := &im.Cmd
	if len(im.Entrypoint) > 0 {
		argv0 = &im.Entrypoint
	}
	if len(*argv0) == 0 {
		return Image{}, errors.New("the image has neither an entrypoint nor a cmd")
	}
	first := (*argv0)[0]
	if strings.Contains(first, "/") {
		target, err := resolveIn(rootfs, first)
		if err != nil {
			return Image{}, fmt.Errorf("entrypoint %s: %w", first, err)
		}
		if !isExecutable(target) {
			return Image{}, fmt.Errorf("entrypoint %s is not an executable file in the image", first)
		}
		im.Links[path.Base(first)] = target
		(*argv0)[0] = path.Base(first)
	} else if _, ok := im.Links[first]; !ok {
		return Image{}, fmt.Errorf("entrypoint %s is in none of the image's PATH directories (%s)", first, strings.Join(pathDirs, ":"))
	}
	return im, nil
}

// linkExecutables adds to links every executable file of the image
// directory dir (resolved in rootfs) not linked yet.
func linkExecutables(rootfs, dir string, links map[string]string) {
	real, err := resolveIn(rootfs, dir)
	if err != nil {
		return
	}
	entries, err := os.ReadDir(real)
	if err != nil {
		return
	}
	for _, e := range entries {
		if _, ok := links[e.Name()]; ok {
			continue
		}
		target, err := resolveIn(rootfs, path.Join(dir, e.Name()))
		if err == nil && isExecutable(target) {
			links[e.Name()] = target
		}
	}
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// resolveIn returns the host path of the image path p, following symlinks
// as the image would see them: an absolute target is relative to rootfs,
// and ".." stops at rootfs.
func resolveIn(rootfs, p string) (string, error) {
	parts := strings.Split(strings.Trim(path.Clean("/"+p), "/"), "/")
	var done []string
	for hops := 0; len(parts) > 0; {
		part := parts[0]
		parts = parts[1:]
		switch part {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		cur := filepath.Join(append([]string{rootfs}, append(done, part)...)...)
		fi, err := os.Lstat(cur)
		if err != nil {
			return "", err
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			done = append(done, part)
			continue
		}
		if hops++; hops > 40 {
			return "", fmt.Errorf("resolve %s: too many symlinks", p)
		}
		target, err := os.Readlink(cur)
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(target, "/") {
			done = nil
		}
		parts = append(strings.Split(strings.Trim(target, "/"), "/"), parts...)
	}
	return filepath.Join(append([]string{rootfs}, done...)...), nil
}
