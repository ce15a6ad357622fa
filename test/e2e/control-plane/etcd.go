package main

import (
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// runEtcd starts a single-member etcd on loopback and serves until SIGTERM or SIGINT. Embedded
// from etcd's own server module at the version Kubernetes requires, because etcd's command module
// is not what the API server is tested against upstream either.
func runEtcd(args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("want <data-dir> <client-url> <peer-url>, got %d argument(s)", len(args))
	}
	clientURL, err := url.Parse(args[1])
	if err != nil {
		return fmt.Errorf("client url: %w", err)
	}
	peerURL, err := url.Parse(args[2])
	if err != nil {
		return fmt.Errorf("peer url: %w", err)
	}
	cfg := embed.NewConfig()
	cfg.Dir = args[0]
	cfg.ListenClientUrls = []url.URL{*clientURL}
	cfg.AdvertiseClientUrls = []url.URL{*clientURL}
	cfg.ListenPeerUrls = []url.URL{*peerURL}
	cfg.AdvertisePeerUrls = []url.URL{*peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel = "error"
	// A throwaway test store: skipping fsync costs nothing we need and saves seconds per rollout.
	cfg.UnsafeNoFsync = true

	server, err := embed.StartEtcd(cfg)
	if err != nil {
		return err
	}
	defer server.Close()
	select {
	case <-server.Server.ReadyNotify():
		fmt.Fprintln(os.Stderr, "etcd ready on", clientURL.String())
	case <-time.After(60 * time.Second):
		return fmt.Errorf("not ready after 60 s")
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	select {
	case err := <-server.Err():
		return err
	case <-signals:
		return nil
	}
}
