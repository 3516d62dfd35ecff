module custos.local/regex-golden

go 1.24
