module custos/tools/vso-golden

go 1.22
