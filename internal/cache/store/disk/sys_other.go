//go:build !linux

package disk

import "os"

// fileIdentity is unknown here: bodies are verified at every Get.
func fileIdentity(os.FileInfo) (fileID, bool) { return fileID{}, false }

// lockDir does not lock here; the caller must not share the directory.
func lockDir(string) (*os.File, error) { return nil, nil }

func openRead(path string) (*os.File, error) { return os.Open(path) }
