// Package hosttest runs rigplan's command line end to end against real LVM:
// the scripts in testdata drive the built rigplan binary inside the test
// kernel (package testhost), on its empty scratch disks.
package hosttest
