module parca-broker.test/pprof-target

go 1.22
