//go:build !linux

package cluster

import "context"

// Up is not supported on this system.
func (c *Cluster) Up(ctx context.Context) (*UpResult, error) { return nil, ErrNotLinux }

// Down is not supported on this system.
func (c *Cluster) Down(ctx context.Context) error { return ErrNotLinux }

// Status is not supported on this system.
func (c *Cluster) Status(ctx context.Context) (*Status, error) { return nil, ErrNotLinux }
