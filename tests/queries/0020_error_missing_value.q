service=
