// placeholder: filled in by the kernel work
