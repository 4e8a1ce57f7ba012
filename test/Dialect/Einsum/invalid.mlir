// RUN: einsum-opt %s --split-input-file --verify-diagnostics

func.func @output_label_not_in_input(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{'einsum.contract' op label 'l' in the output appears in no input (at position 8)}}
  %0 = einsum.contract "ij,jk->il" %a, %b : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @bad_character(%a: tensor<2x3xf32>) -> tensor<3x2xf32> {
  // expected-error @+1 {{invalid character '#' in equation (at position 1)}}
  %0 = einsum.contract "i#->ji" %a : (tensor<2x3xf32>) -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----

func.func @size_mismatch(%a: tensor<2x3xf32>, %b: tensor<4x5xf32>) -> tensor<2x5xf32> {
  // expected-error @+1 {{label 'j' has size 3 in operand 0 and 4 in operand 1}}
  %0 = einsum.contract "ij,jk->ik" %a, %b : (tensor<2x3xf32>, tensor<4x5xf32>) -> tensor<2x5xf32>
  return %0 : tensor<2x5xf32>
}

// -----

func.func @operand_count(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{equation has 2 operands but 1 was given}}
  %0 = einsum.contract "ij,jk->ik" %a : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @rank_mismatch(%a: tensor<2x3x4xf32>) -> tensor<3x2xf32> {
  // expected-error @+1 {{operand 0 has rank 3 but its subscripts name 2 dimensions}}
  %0 = einsum.contract "ij->ji" %a : (tensor<2x3x4xf32>) -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----

func.func @unequal_diagonal(%a: tensor<2x3xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{label 'i' is repeated in operand 0 with sizes 2 and 3}}
  %0 = einsum.contract "ii->i" %a : (tensor<2x3xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @repeated_ellipsis(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{operand 0 has more than one ellipsis '...'}}
  %0 = einsum.contract "......" %a : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// A repeated output label is einjit's extension (a diagonal); the result
// has a dim for each repetition.
func.func @repeated_output_label(%a: tensor<2x3xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{result shape (2) does not match the equation's output shape (2x2)}}
  %0 = einsum.contract "ij->ii" %a : (tensor<2x3xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @wrong_result_shape(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>) -> tensor<4x2xf32> {
  // expected-error @+1 {{result shape (4x2) does not match the equation's output shape (2x4)}}
  %0 = einsum.contract "ij,jk->ik" %a, %b : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<4x2xf32>
  return %0 : tensor<4x2xf32>
}

// -----

func.func @wrong_result_type(%a: tensor<3xi32>, %b: tensor<3xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{result element type 'f32' does not match the promoted operand type 'f64'}}
  %0 = einsum.contract "i,i->i" %a, %b : (tensor<3xi32>, tensor<3xf32>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @unsupported_type(%a: tensor<3xi1>) -> tensor<3xi1> {
  // expected-error @+1 {{operand 0 has unsupported element type 'i1' (einjit supports f16, bf16, f32, f64 and i8 to i64)}}
  %0 = einsum.contract "i->i" %a : (tensor<3xi1>) -> tensor<3xi1>
  return %0 : tensor<3xi1>
}

// -----

func.func @dtypes_count(%a: tensor<3xi8>) -> tensor<3xi8> {
  // expected-error @+1 {{dtypes names 1 types, for 1 operand(s) and the result}}
  %0 = einsum.contract "i->i" %a {dtypes = ["u8"]} : (tensor<3xi8>) -> tensor<3xi8>
  return %0 : tensor<3xi8>
}

// -----

func.func @dtypes_unknown(%a: tensor<3xi8>) -> tensor<3xi8> {
  // expected-error @+1 {{dtypes names an unknown dtype 'q8' for operand 0}}
  %0 = einsum.contract "i->i" %a {dtypes = ["q8", "u8"]} : (tensor<3xi8>) -> tensor<3xi8>
  return %0 : tensor<3xi8>
}

// -----

func.func @dtypes_storage(%a: tensor<3xi16>) -> tensor<3xi16> {
  // expected-error @+1 {{dtypes names 'u8' for operand 0, whose element type 'i16' does not store it}}
  %0 = einsum.contract "i->i" %a {dtypes = ["u8", "u8"]} : (tensor<3xi16>) -> tensor<3xi16>
  return %0 : tensor<3xi16>
}

// -----

func.func @dtypes_result(%a: tensor<3xi8>, %b: tensor<3xi8>) -> tensor<3xi8> {
  // expected-error @+1 {{dtypes names 'i8' for the result, but the operands promote to 'i16'}}
  %0 = einsum.contract "i,i->i" %a, %b {dtypes = ["u8", "i8", "i8"]} : (tensor<3xi8>, tensor<3xi8>) -> tensor<3xi8>
  return %0 : tensor<3xi8>
}

// -----

func.func @dynamic_shape(%a: tensor<?x3xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{must be variadic of statically shaped tensor of any type values}}
  %0 = einsum.contract "ij->j" %a : (tensor<?x3xf32>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @path_reuses_a_value(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>, %c: tensor<4xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{'einsum.contract' op has an invalid path: step 1 of the path uses value 0, already consumed}}
  %0 = einsum.contract "ij,jk,k->i" %a, %b, %c {path = [array<i64: 0, 1>, array<i64: 0, 2>]} : (tensor<2x3xf32>, tensor<3x4xf32>, tensor<4xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @path_names_a_future_value(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>, %c: tensor<4xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{'einsum.contract' op has an invalid path: step 0 of the path names value 3, which does not exist yet (operands are 0-2, step i makes 3+i)}}
  %0 = einsum.contract "ij,jk,k->i" %a, %b, %c {path = [array<i64: 0, 3>, array<i64: 1, 2>]} : (tensor<2x3xf32>, tensor<3x4xf32>, tensor<4xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @path_leaves_values(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>, %c: tensor<4xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{'einsum.contract' op has an invalid path: the path leaves 2 values uncontracted; it must end with one}}
  %0 = einsum.contract "ij,jk,k->i" %a, %b, %c {path = [array<i64: 0, 1>]} : (tensor<2x3xf32>, tensor<3x4xf32>, tensor<4xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @path_step_of_three(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>, %c: tensor<4xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{'einsum.contract' op has an invalid path: step 0 of the path contracts 3 values; a step takes one or two}}
  %0 = einsum.contract "ij,jk,k->i" %a, %b, %c {path = [array<i64: 0, 1, 2>]} : (tensor<2x3xf32>, tensor<3x4xf32>, tensor<4xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}
