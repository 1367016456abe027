package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gammaproof/gammaproof/internal/repo"
	"github.com/gammaproof/gammaproof/suite/image"
)

// binDirHelp says where our binaries are by default.
const binDirHelp = "$GAMMAPROOF_BIN if set, else bin/ of the gammaproof checkout (make build fills it)"

// imagesCommand is `gammaproof images` (OCI tarballs for kind) and
// `gammaproof images push`.
func imagesCommand() *cobra.Command {
	var out, bin string
	cmd := &cobra.Command{
		Use:   "images",
		Short: "build OCI image tarballs of our binaries for kind, or push multi-arch images (images push)",
		Long: `Build one OCI image tarball per image (gammaproof/controller, node, echo,
client; tag ` + image.Tag + `) from our static binaries, for kind to load.

--bin defaults to ` + binDirHelp + `;
--out defaults to the images/ directory in it.

To push multi-architecture images to a registry a cluster can pull from,
use ` + "`gammaproof images push --registry REG`" + `.`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("unknown images subcommand %q (run `%s --help`)", args[0], c.CommandPath())
			}
			return nil
		},
		RunE: func(c *cobra.Command, _ []string) error {
			if bin == "" {
				bin = repo.BinDir()
			}
			if out == "" {
				out = filepath.Join(bin, "images")
			}
			paths, err := image.WriteAll(image.Ours, bin, out)
			if err != nil {
				return err
			}
			for i, p := range paths {
				fmt.Fprintf(c.OutOrStdout(), "images: %s -> %s\n", image.Ours[i].Ref(), p)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "directory for the image tarballs (default: images/ in --bin)")
	cmd.Flags().StringVar(&bin, "bin", "", "directory of our static binaries (default: "+binDirHelp+")")
	cmd.AddCommand(imagesPushCommand())
	return cmd
}

// pushFlags are the flags of `gammaproof images push`.
type pushFlags struct {
	registry string
	tag      string
	binDirs  map[string]*string // architecture → --bin-dir-<arch>
}

// imagesPushCommand is `gammaproof images push`.
func imagesPushCommand() *cobra.Command {
	f := pushFlags{binDirs: map[string]*string{}}
	cmd := &cobra.Command{
		Use:   "push --registry REG [--tag T]",
		Short: "push multi-arch (linux/" + strings.Join(image.Architectures, ", linux/") + ") images of our binaries to a registry",
		Long: `Push one OCI image index per image (REG/gammaproof/controller, node, echo,
client), each with an image for linux/` + strings.Join(image.Architectures, " and linux/") + `: one layer holding the
static binary at /usr/local/bin/<binary>, its entrypoint. No Dockerfile, no
Docker.

The binaries: with --bin-dir-amd64 and --bin-dir-arm64, the ones in those
directories (built with CGO_ENABLED=0); without them, push cross-compiles
them with ` + "`go build`" + ` from the gammaproof checkout ($GAMMAPROOF_ROOT, else the
one the binary was built from or sits in, else the one holding the working
directory) into a temporary directory.

Credentials come from the Docker config ($DOCKER_CONFIG, else
~/.docker/config.json); a registry on a loopback or private address is
spoken to over plain HTTP. Use the images with
` + "`gammaproof install --image-registry REG`" + ` and ` + "`gammaproof verify --image-registry REG`" + `.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			given := 0
			for _, d := range f.binDirs {
				if *d != "" {
					given++
				}
			}
			if given != 0 && given != len(f.binDirs) {
				return usageErrorf("give every --bin-dir-<arch> (%s) or none (run `%s --help`)", strings.Join(image.Architectures, ", "), c.CommandPath())
			}
			return push(c.Context(), c.OutOrStdout(), f)
		},
	}
	cmd.Flags().StringVar(&f.registry, "registry", "", "registry (and path) to push to, e.g. 127.0.0.1:5000 or ghcr.io/me (required)")
	cmd.Flags().StringVar(&f.tag, "tag", image.Tag, "tag of the pushed images")
	for _, arch := range image.Architectures {
		f.binDirs[arch] = cmd.Flags().String("bin-dir-"+arch, "", "directory of our static linux/"+arch+" binaries (default: cross-compile them)")
		_ = cmd.MarkFlagDirname("bin-dir-" + arch)
	}
	_ = cmd.MarkFlagRequired("registry")
	return cmd
}

func push(ctx context.Context, w io.Writer, f pushFlags) error {
	dirs := map[string]string{}
	for arch, d := range f.binDirs {
		dirs[arch] = *d
	}
	if dirs[image.Architectures[0]] == "" {
		tmp, err := os.MkdirTemp("", "gammaproof-push-")
		if err != nil {
			return fmt.Errorf("push images: %w", err)
		}
		defer os.RemoveAll(tmp)
		root := repo.Root()
		for _, arch := range image.Architectures {
			fmt.Fprintf(w, "images: building linux/%s binaries from %s\n", arch, root)
			dirs[arch] = filepath.Join(tmp, arch)
			if err := image.CrossCompile(ctx, root, dirs[arch], arch, image.Ours); err != nil {
				return fmt.Errorf("%w (run from a gammaproof checkout, or pass --bin-dir-amd64 and --bin-dir-arm64)", err)
			}
		}
	}
	pushed, err := image.Push(ctx, f.registry, f.tag, image.Ours, dirs)
	for _, p := range pushed {
		fmt.Fprintf(w, "images: pushed %s@%s (linux/%s)\n", p.Ref, p.Digest, strings.Join(p.Architectures, ", linux/"))
	}
	return err
}
