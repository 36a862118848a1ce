// Package nspawntest runs the image and machine resources against systemd
// as PID 1 in the test kernel (TestMain is testhost.MainSystemd): rigplan
// apply imports an image and creates the original setup's machine, the
// machine boots and runs a job that writes into its root and powers it
// off, systemd boots it again clean, a changed image waits for the
// running job and replaces the root, and plan shows no changes after each
// apply.
//
// The package has no code of its own; everything is in its tests.
package nspawntest
