"""Speed: `make bench` (`synthrl.bench.suite`), CTranslate2 beside our sampler, and the speed probes, each
measured side by side in one run and committed as a CSV naming the machine."""
