package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/records"
	"github.com/hookflow/hookflow/store"
)

// recordStoreFlag is the worker's --store: the flow store record steps read
// and write (the API's). Without it the worker runs every other step, and
// record steps fail at once, naming the setting.
type recordStoreFlag struct{ dsn string }

func (f *recordStoreFlag) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.dsn, "store", "", "the flow store record steps use, the API's (a SQLite file or a postgres:// URL; default $HOOKFLOW_STORE; empty: no record steps)")
}

// open opens the store when one is set (the flag, else HOOKFLOW_STORE, which
// keeps a DSN's password off the command line) and returns the record
// activities on it; the caller closes the store (nil without one).
func (f *recordStoreFlag) open(ctx context.Context, cmd *cobra.Command, log *slog.Logger) (*activities.Records, *store.Store, error) {
	dsn := f.dsn
	if v := os.Getenv("HOOKFLOW_STORE"); v != "" && !cmd.Flags().Changed("store") {
		dsn = v
	}
	if dsn == "" {
		log.Info("no flow store (--store): record steps fail until the worker has one")
		return nil, nil, nil
	}
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return nil, nil, err
	}
	return activities.NewRecords(records.Of(st), log.With("component", "records")), st, nil
}
