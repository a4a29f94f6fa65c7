"""Personal data: how long each kind is kept (`policies`), the retention job (`retention`),
legal holds (`holds`), a customer's export and erasure (`export`, `erasure`), the case bundle
for an ADR body (`bundle`) and the timeline's hash chain (`chain`)."""
